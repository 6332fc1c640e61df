// Calling the API from a Next.js or React front end with the generated types: copy this file and api.d.ts.
import type { paths } from "./api";

type Posts = paths["/api/posts"];
export type PostPage = Posts["get"]["responses"]["200"]["content"]["application/json"];
export type PostInput = Posts["post"]["requestBody"]["content"]["application/json"];
export type Post = Posts["post"]["responses"]["201"]["content"]["application/json"];
export type Problem = Posts["post"]["responses"]["422"]["content"]["application/problem+json"];
/** Plain data, so a Server Action can hand it to a client component. */
export type Result<T> = { ok: true; data: T } | { ok: false; status: number; problem?: Problem };

const API_URL = ""; // "" is the same origin (a Next.js rewrite of /api/:path*); or the stack's ApiUrl

async function parse<T>(response: Response): Promise<Result<T>> {
  if (response.ok) return { ok: true, data: (await response.json()) as T };
  // The API's errors are problem+json; API Gateway's own (500, 503) are {"message": ...}.
  const isProblem = response.headers.get("content-type")?.startsWith("application/problem+json");
  return { ok: false, status: response.status, problem: isProblem ? ((await response.json()) as Problem) : undefined };
}

export async function listPosts(cursor?: string): Promise<Result<PostPage>> {
  const query = cursor ? `?${new URLSearchParams({ cursor })}` : "";
  return parse<PostPage>(await fetch(`${API_URL}/api/posts${query}`));
}

export async function createPost(token: string, input: PostInput): Promise<Result<Post>> {
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  return parse<Post>(await fetch(`${API_URL}/api/posts`, { method: "POST", headers, body: JSON.stringify(input) }));
}

/** A 422's messages by field, for a form: `{ title: "String should have at least 1 character" }`. */
export function fieldErrors(result: Result<unknown>): Record<string, string> {
  const items = result.ok ? [] : (result.problem?.errors ?? []);
  return Object.fromEntries(items.map((item) => [String(item.loc.at(-1)), item.msg]));
}
