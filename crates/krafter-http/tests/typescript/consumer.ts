// The README's walk-through as a generated client does it: types from docs/openapi.json
// (openapi-typescript, written to generated/ at test time), requests through openapi-fetch,
// type-checked by `tsc --strict`, with no cast and no `any`. Run against a live server by
// crates/krafter-http/tests/api/typescript_client.rs, it checks every value it reads back and exits
// non-zero on the first one that is wrong.
//
// Environment: KRAFTER_BASE_URL (http://127.0.0.1:PORT), KRAFTER_ORG (the organisation's id),
// KRAFTER_PROJECT (the project's slug), KRAFTER_KEY (a key with audit:read and audit:write).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

type ReportStatus = components["schemas"]["ReportStatusDto"];
type ReportDetail = components["schemas"]["ReportDetailDto"];
type Summary = components["schemas"]["SummaryDto"];

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const baseUrl = env("KRAFTER_BASE_URL");
const org_id = env("KRAFTER_ORG");
const project_id = env("KRAFTER_PROJECT");
const key = env("KRAFTER_KEY");

const client = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${key}` },
});

// Every change is dated in the past, on days counted from the day the walk-through starts, so
// that the figures read back are exact whenever it runs (even across midnight).
const start = new Date();
function day(offset: number): string {
  const d = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + offset));
  return d.toISOString().slice(0, 10);
}
function at(offset: number, hour: number): string {
  return `${day(offset)}T${String(hour).padStart(2, "0")}:00:00Z`;
}

/** A finished report: exported, or a reason to stop. `never` keeps the switch exhaustive. */
function finished(status: ReportStatus): boolean {
  switch (status) {
    case "queued":
    case "exporting":
      return false;
    case "exported":
      return true;
    case "failed":
    case "shared":
      throw new Error(`the report became ${status}`);
    default: {
      const unknown: never = status;
      throw new Error(`unknown status ${String(unknown)}`);
    }
  }
}

function burnDown(summary: Summary): Array<[string, number]> {
  return summary.risk_burn_down.map((point) => [point.date, point.open_risk_score]);
}

async function main(): Promise<void> {
  const project = { org_id, project_id };

  // A finding, imported with the time it was found.
  const created = await client.POST("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings", {
    params: { path: project },
    body: {
      title: "SQL injection in /search",
      severity: "high",
      priority_score: 700,
      occurred_at: at(-3, 9),
    },
  });
  assert.equal(created.response.status, 201, "create: status");
  assert.ok(created.data, `create: ${JSON.stringify(created.error)}`);
  const finding = created.data.data;
  assert.equal(finding.status, "new");
  assert.equal(finding.severity, "high");
  assert.equal(finding.priority_score, 700);
  assert.equal(finding.title, "SQL injection in /search");
  assert.equal(Date.parse(finding.created_at), Date.parse(at(-3, 9)));
  const finding_id = finding.id;

  // Work on it, verify the fix, resolve it.
  const started = await client.PATCH(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}",
    { params: { path: { ...project, finding_id } }, body: { status: "in_progress", occurred_at: at(-2, 10) } },
  );
  assert.ok(started.data, `patch: ${JSON.stringify(started.error)}`);
  assert.equal(started.data.data.status, "in_progress");
  assert.equal(started.data.data.priority_score, 700);

  const verified = await client.POST(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}/verifications",
    { params: { path: { ...project, finding_id } }, body: { result: "passed", occurred_at: at(-2, 11) } },
  );
  assert.equal(verified.response.status, 201, "verify: status");
  assert.ok(verified.data, `verify: ${JSON.stringify(verified.error)}`);
  assert.equal(verified.data.data.result, "passed");
  assert.equal(verified.data.data.finding_id, finding_id);

  const resolved = await client.PATCH(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}",
    { params: { path: { ...project, finding_id } }, body: { status: "resolved", occurred_at: at(-1, 12) } },
  );
  assert.ok(resolved.data, `resolve: ${JSON.stringify(resolved.error)}`);
  assert.equal(resolved.data.data.status, "resolved");

  // It came back: a regression, open at the end of yesterday for now.
  const opened = await client.POST(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}/regressions",
    { params: { path: { ...project, finding_id } }, body: { occurred_at: at(-1, 13) } },
  );
  assert.equal(opened.response.status, 201, "regression: status");
  assert.ok(opened.data, `regression: ${JSON.stringify(opened.error)}`);
  assert.equal(opened.data.data.status, "open");
  assert.equal(opened.data.data.closed_at, null);
  const regression_id = opened.data.data.id;

  // The summary with a window: three days up to yesterday; the one resolved finding came back.
  const window = { date_from: day(-3), date_to: day(-1) };
  const before = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/summary", {
    params: { path: project, query: window },
  });
  assert.ok(before.data, `summary: ${JSON.stringify(before.error)}`);
  assert.deepEqual(burnDown(before.data.data), [
    [day(-3), 700],
    [day(-2), 700],
    [day(-1), 0],
  ]);
  assert.equal(before.data.data.open_findings, 0);
  assert.equal(before.data.data.verification_pass_rate, 1);
  assert.equal(before.data.data.regression_rate, 1);

  // Fixed again: closing the regression an hour later changes the same past day.
  const closed = await client.PATCH(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/regressions/{regression_id}",
    { params: { path: { ...project, regression_id } }, body: { status: "closed", occurred_at: at(-1, 14) } },
  );
  assert.ok(closed.data, `close: ${JSON.stringify(closed.error)}`);
  assert.equal(closed.data.data.status, "closed");
  assert.equal(Date.parse(closed.data.data.closed_at ?? ""), Date.parse(at(-1, 14)));

  const after = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/summary", {
    params: { path: project, query: window },
  });
  assert.ok(after.data, `summary: ${JSON.stringify(after.error)}`);
  assert.equal(after.data.data.regression_rate, 0);
  assert.equal(after.data.data.open_findings, 0);

  // The finding read back with everything recorded about it.
  const detail = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}", {
    params: { path: { ...project, finding_id } },
  });
  assert.ok(detail.data, `finding: ${JSON.stringify(detail.error)}`);
  assert.deepEqual(
    detail.data.data.history.map((event) => [event.status, event.priority_score, Date.parse(event.occurred_at)]),
    [
      ["new", 700, Date.parse(at(-3, 9))],
      ["in_progress", 700, Date.parse(at(-2, 10))],
      ["resolved", 700, Date.parse(at(-1, 12))],
    ],
  );
  assert.deepEqual(
    detail.data.data.verifications.map((v) => v.result),
    ["passed"],
  );
  assert.deepEqual(
    detail.data.data.regressions.map((r) => [r.id, r.status]),
    [[regression_id, "closed"]],
  );

  // An error is the envelope too, with a code from the enum.
  const missing = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}", {
    params: { path: { ...project, finding_id: randomUUID() } },
  });
  assert.equal(missing.response.status, 404, "unknown finding: status");
  assert.equal(missing.data, undefined);
  assert.ok(missing.error, "unknown finding: an error");
  assert.equal(missing.error.error.code, "not_found");
  assert.equal(typeof missing.error.error.message, "string");

  // Export the four days (yesterday's state and today's) as a PDF, with an Idempotency-Key.
  const exportBody: components["schemas"]["ExportBody"] = {
    format: "pdf",
    period_start: day(-3),
    period_end: day(0),
  };
  const exportRequest = {
    params: { path: project, header: { "Idempotency-Key": `typescript-consumer-${finding_id}` } },
    body: exportBody,
  };
  const exported = await client.POST(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/export",
    exportRequest,
  );
  assert.equal(exported.response.status, 202, `export: ${JSON.stringify(exported.error)}`);
  assert.ok(exported.data, "export: a report");
  const report = exported.data.data;
  assert.equal(exported.response.headers.get("x-quota-remaining"), "99");
  assert.equal(exported.response.headers.get("idempotent-replayed"), null);
  assert.equal(report.format, "pdf");
  assert.equal(report.period_start, day(-3));
  assert.equal(report.period_end, day(0));
  assert.equal(report.project_id, project_id);
  assert.equal(report.org_id, org_id);
  assert.equal(report.exported_at, null);
  assert.deepEqual(burnDown(report.snapshot), [
    [day(-3), 700],
    [day(-2), 700],
    [day(-1), 0],
    [day(0), 0],
  ]);
  assert.equal(report.snapshot.verification_pass_rate, 1);
  assert.equal(report.snapshot.regression_rate, 0);
  assert.equal(report.snapshot.open_findings, 0);

  // The same key and body again: the same report, not charged twice.
  const replayed = await client.POST(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/export",
    exportRequest,
  );
  assert.equal(replayed.response.status, 202, `replay: ${JSON.stringify(replayed.error)}`);
  assert.ok(replayed.data, "replay: a report");
  assert.equal(replayed.data.data.id, report.id);
  assert.equal(replayed.response.headers.get("idempotent-replayed"), "true");
  assert.equal(replayed.response.headers.get("x-quota-remaining"), "99");

  // Poll the report until it is exported, within a deadline.
  const report_id = report.id;
  const deadline = Date.now() + 60_000;
  let polled: ReportDetail;
  for (;;) {
    const got = await client.GET("/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}", {
      params: { path: { ...project, report_id } },
    });
    assert.ok(got.data, `poll: ${JSON.stringify(got.error)}`);
    polled = got.data.data;
    if (finished(polled.status)) {
      break;
    }
    if (Date.now() > deadline) {
      throw new Error(`the report is still ${polled.status} after 60 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(polled.error, null);
  assert.equal(
    polled.download_url,
    `${baseUrl}/api/v1/orgs/${org_id}/projects/${project_id}/audit/reports/${report_id}/download`,
  );
  assert.notEqual(polled.exported_at, null);

  // Download it as bytes.
  const download = await client.GET(
    "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}/download",
    { params: { path: { ...project, report_id } }, parseAs: "arrayBuffer" },
  );
  assert.equal(download.response.status, 200, `download: ${JSON.stringify(download.error)}`);
  assert.ok(download.data, "download: bytes");
  const bytes: ArrayBuffer = download.data;
  assert.ok(bytes.byteLength > 0, "download: not empty");
  assert.equal(new TextDecoder().decode(new Uint8Array(bytes, 0, 5)), "%PDF-");
  assert.equal(download.response.headers.get("content-type"), "application/pdf");
  assert.match(download.response.headers.get("content-disposition") ?? "", /^attachment; filename=/);

  console.log(`ok: finding ${finding_id}, report ${report_id}, ${bytes.byteLength} bytes of PDF`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
