// Starts Swagger UI on /docs (a static file: the Content-Security-Policy forbids inline script).
// The bundled Swagger UI 4 only renders documents whose version starts with "3.0.", so the
// OpenAPI 3.1 document is fetched here and shown with a 3.0 version label; /openapi.json is unchanged.
(function () {
  "use strict";
  function start() {
    var root = document.getElementById("swagger-ui");
    var url = root.getAttribute("data-openapi-url");
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("GET " + url + " answered " + response.status); }
        return response.json();
      })
      .then(function (spec) {
        spec.openapi = "3.0.3";
        spec.servers = [{ url: window.location.origin }];
        window.ui = SwaggerUIBundle({
          spec: spec,
          dom_id: "#swagger-ui",
          deepLinking: true,
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
          layout: "BaseLayout"
        });
      })
      .catch(function (error) {
        root.textContent = "Could not load the API description: " + error.message;
      });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
