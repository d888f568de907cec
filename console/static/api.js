// The public GraphQL API over HTTP. Documents are named operations from
// graphql/operations, served read-only by the service with their fragments
// (/console/operations/<name>.graphql) and fetched once per page.

import { state } from "./state.js";

export class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

const documents = new Map();

export function operation(name) {
  if (!documents.has(name)) {
    const loading = fetch(`/console/operations/${name}.graphql`).then((response) => {
      if (!response.ok) {
        throw new ApiError(`Cannot load operation ${name}: HTTP ${response.status}`,
                           `HTTP_${response.status}`);
      }
      return response.text();
    });
    loading.catch(() => documents.delete(name));  // a later call tries again
    documents.set(name, loading);
  }
  return documents.get(name);
}

export async function gql(name, variables = {}) {
  const query = await operation(name);
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Authorization": `Bearer ${state.token}` },
    body: JSON.stringify({ query, variables }),
  });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  const error = body && body.errors && body.errors[0];
  if (!response.ok || error) {
    const code = error && error.extensions ? error.extensions.code : `HTTP_${response.status}`;
    throw new ApiError(error ? error.message : `HTTP ${response.status}`, code);
  }
  return body.data;
}
