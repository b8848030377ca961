// Swagger UI on /docs/swagger: the spec and the bundle come from this server; calls use the browser session,
// and writes carry the page's CSRF token.
window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui");
  if (!el || !window.SwaggerUIBundle) return;
  var csrf = el.getAttribute("data-csrf");
  window.SwaggerUIBundle({
    url: el.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (req) {
      if (req.method && req.method !== "GET") req.headers["X-CSRF-Token"] = csrf;
      return req;
    },
  });
});
