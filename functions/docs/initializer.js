// Starts Swagger UI on GET /api/docs. A file of its own, never an inline <script>, so that the page's
// Content-Security-Policy can say script-src 'self'. The document's URL comes from the page (data-url), which
// app.py writes from the same route declaration that serves it.
"use strict";

(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    // Keeps what Authorize was given across reloads (localStorage); access tokens expire after 15 minutes.
    persistAuthorization: true,
    displayRequestDuration: true,
    // Never send the document to validator.swagger.io (the CSP would refuse the badge anyway).
    validatorUrl: null,
    // queryConfigEnabled stays false (the default): ?url= and ?configUrl= cannot point this page elsewhere.
  });
})();
