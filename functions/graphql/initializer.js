// Starts GraphiQL on GET /api/graphql. A file of its own, never an inline <script>, so that the page's
// Content-Security-Policy can say script-src 'self'. The endpoint's URL comes from the page (data-url), which
// ide.py writes from the same constant app.py routes.
"use strict";

(function () {
  var root = document.getElementById("graphiql");
  var url = root.dataset.url;

  // Our own fetcher, not GraphiQL.createFetcher: a plain POST of JSON (no multipart or websocket attempts), which
  // asks for GraphQL over HTTP's media type. The headers editor's headers (Authorization) go with every request,
  // the schema's introspection too.
  function fetcher(params, options) {
    var headers = new Headers((options && options.headers) || {});
    if (!headers.has("Accept")) {
      headers.set("Accept", "application/graphql-response+json, application/json");
    }
    headers.set("Content-Type", "application/json"); // the body is JSON, whatever the editor says
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(params) }).then(function (answer) {
      return answer.text().then(function (text) {
        try {
          return JSON.parse(text); // a GraphQL result, or a problem+json (401, 413, 429): shown as it came
        } catch (error) {
          return { errors: [{ message: answer.status + " " + answer.statusText + ": " + text }] };
        }
      });
    });
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery:
        "# Fields marked \"signed in\" need a token: get an access_token from POST /api/auth/signup or login\n" +
        "# (or `make token`), then put it in Headers below: {\"Authorization\": \"Bearer <access_token>\"}\n" +
        "{\n  posts(first: 5) {\n    nodes { id title createdAt }\n  }\n}\n",
      // Kept across reloads (localStorage), as the API docs keep Authorize; access tokens expire after 15 minutes.
      shouldPersistHeaders: true,
    })
  );
})();
