// Mistakes a consumer could make, each of which the generated types must refuse. This file must
// NOT type-check: each `// expect TSnnnn: text` line names the error tsc must report on the line
// below it (its code and a part of its message), and tsc must report no other error.
// crates/krafter-http/tests/api/typescript_client.rs checks exactly that.

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:1" });
const project = { org_id: "00000000-0000-0000-0000-000000000000", project_id: "web-shop" };
const finding_id = "00000000-0000-0000-0000-000000000001";

export async function mistakes(): Promise<void> {
  // A status outside the enum.
  await client.PATCH("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}", {
    params: { path: { ...project, finding_id } },
    // expect TS2322: "bogus"
    body: { status: "bogus" },
  });

  // Neither a status nor a priority score: `{}` is not a change.
  await client.PATCH("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}", {
    params: { path: { ...project, finding_id } },
    // expect TS2322: Type '{}' is not assignable
    body: {},
  });

  // A severity outside the enum.
  await client.POST("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings", {
    params: { path: project },
    // expect TS2322: "urgent"
    body: { title: "XSS", severity: "urgent", priority_score: 10 },
  });

  // A required field left out: priority_score.
  await client.POST("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings", {
    params: { path: project },
    // expect TS2322: Property 'priority_score' is missing
    body: { title: "XSS", severity: "low" },
  });

  // A verification result outside the enum.
  await client.POST("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}/verifications", {
    params: { path: { ...project, finding_id } },
    // expect TS2322: "maybe"
    body: { result: "maybe" },
  });

  // An export format outside the enum.
  await client.POST("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/export", {
    params: { path: project },
    // expect TS2322: "docx"
    body: { format: "docx" },
  });

  // A query parameter the summary does not have.
  await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/summary", {
    // expect TS2353: 'since' does not exist
    params: { path: project, query: { since: "2026-01-01" } },
  });

  // A path parameter left out.
  await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/summary", {
    // expect TS2741: Property 'project_id' is missing
    params: { path: { org_id: project.org_id } },
  });

  // A field the summary does not have, and data read before the error is ruled out.
  const summary = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/summary", {
    params: { path: project },
  });
  // expect TS18048: 'summary.data' is possibly 'undefined'
  console.log(summary.data.data.open_findings);
  if (summary.data) {
    // expect TS2339: Property 'risk_score' does not exist
    console.log(summary.data.data.risk_score);
  }

  // A nullable field used as if it were always there.
  const report = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}", {
    params: { path: { ...project, report_id: finding_id } },
  });
  if (report.data) {
    // expect TS18047: 'report.data.data.download_url' is possibly 'null'
    console.log(report.data.data.download_url.length);
  }

  // The download read without `parseAs: "arrayBuffer"` is not bytes.
  const download = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}/download", {
    params: { path: { ...project, report_id: finding_id } },
  });
  if (download.data) {
    // expect TS2322: is not assignable to type 'ArrayBuffer'
    const bytes: ArrayBuffer = download.data;
    console.log(bytes.byteLength);
  }

  // An error code outside the enum.
  if (report.error) {
    // expect TS2367: "no_such_code"
    console.log(report.error.error.code === "no_such_code");
  }
}

// A switch over the report statuses that forgets one: the enum is closed.
export function forgetful(status: components["schemas"]["ReportStatusDto"]): string {
  switch (status) {
    case "queued":
    case "exporting":
    case "exported":
    case "failed":
      return status;
    default: {
      // expect TS2322: Type '"shared"' is not assignable to type 'never'
      const unknown: never = status;
      return unknown;
    }
  }
}
