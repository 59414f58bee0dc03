// A client program against the TypeScript types that openapi-typescript generates from the served document
// (./api.d.ts, written by scripts/check-openapi.sh). It is type-checked with `tsc --strict`, never run: it fails
// to compile when the document stops describing what clients rely on — the operation ids, the request and
// response shapes of a walk through the API, and problem+json errors everywhere.
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./api";

type Problem = components["schemas"]["Problem"];

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });

/** Sign in, create a lot, read it back, start a process on its first unit; every error is a Problem. */
export async function walk(username: string, password: string): Promise<string[]> {
  const seen: string[] = [];
  const note = (p: Problem) => {
    seen.push(`${p.status} ${p.code} ${p.type}`, ...(p.errors ?? []).map((e) => e.field));
  };

  const login = await client.POST("/api/v1/auth/login", { body: { username, password } });
  if (login.error) {
    note(login.error);
    return seen;
  }
  const headers = { Authorization: `Bearer ${login.data.access_token}` };

  const created = await client.POST("/api/v1/lots", {
    headers,
    body: { product_model_id: 1, production_line_id: 1, target_quantity: 2 },
  });
  if (created.error) {
    note(created.error);
    return seen;
  }
  const lot = await client.GET("/api/v1/lots/{id}", { headers, params: { path: { id: created.data.id } } });
  if (lot.error) note(lot.error);
  else seen.push(lot.data.lot_number);

  const page = await client.GET("/api/v1/lots", { headers, params: { query: { limit: 10, sort: "lot_number" } } });
  if (page.error) note(page.error);
  else seen.push(...page.data.items.map((l) => l.lot_number), page.data.next_cursor ?? "");

  const started = await client.POST("/api/v1/process-data/start", {
    headers,
    body: { process_number: 1, unit: { wip_id: `WIP-${created.data.lot_number}-001` } },
  });
  if (started.error) note(started.error);
  else seen.push(String(started.data.id));
  return seen;
}

// The operation ids are a contract: generated clients name their functions after them.
export const operationIds: (keyof operations)[] = [
  "auth_login",
  "lots_list",
  "lots_create",
  "lots_get_by_id",
  "users_get_one",
  "process_data_start",
  "units_get_serial",
  "operations_health",
  "operations_readyz",
  "operations_livez",
];

// Every 4xx/5xx body of every operation is a Problem (GET /health's and GET /readyz's 503 are their 200's shape with
// the failure filled in, by design: monitors read one shape).
type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503;
type ErrorBodies<Op> = Op extends { responses: infer R }
  ? { [S in keyof R & ErrorStatus]: R[S] extends { content: infer C } ? C[keyof C] : never }[keyof R & ErrorStatus]
  : never;
type NotProblems = "operations_health" | "operations_readyz";
type AnyErrorBody = { [K in Exclude<keyof operations, NotProblems>]: ErrorBodies<operations[K]> }[Exclude<
  keyof operations,
  NotProblems
>];
export const everyErrorIsAProblem = (body: AnyErrorBody): Problem => body;
// ...and the check above is not vacuous: a Problem is one of those bodies (it would be `never` if none were).
export const aProblemIsAnErrorBody = (problem: Problem): AnyErrorBody => problem;
