// The test parser against the exposition format's own examples and its error cases.
import { describe, expect, test } from "bun:test";
import { parsePrometheus, sample } from "./prom-parser.ts";

describe("Prometheus text format parser (exposition format 0.0.4)", () => {
  test("the format's example", () => {
    const text = [
      "# HELP http_requests_total The total number of HTTP requests.",
      "# TYPE http_requests_total counter",
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3 1395066363000',
      "",
      "# Escaping in label values:",
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      "",
      "# Minimalistic line:",
      "metric_without_timestamp_and_labels 12.47",
      "",
      "# HELP http_request_duration_seconds A histogram of the request duration.",
      "# TYPE http_request_duration_seconds histogram",
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      "http_request_duration_seconds_sum 53423",
      "http_request_duration_seconds_count 144320",
      "something_weird{problem=\"division by zero\"} +Inf -3982045",
    ].join("\n");
    const f = parsePrometheus(text);
    expect(f.get("http_requests_total")!.type).toBe("counter");
    expect(sample(f, "http_requests_total", { method: "post", code: "400" })).toBe(3);
    expect(f.get("http_requests_total")!.samples[0]!.timestampMs).toBe(1395066363000);
    expect(sample(f, "msdos_file_access_time_seconds", { path: "C:\\DIR\\FILE.TXT", error: 'Cannot find file:\n"FILE.TXT"' })).toBe(1.458255915e9);
    expect(sample(f, "metric_without_timestamp_and_labels")).toBe(12.47);
    expect(f.get("http_request_duration_seconds")!.samples.length).toBe(4);
    expect(sample(f, "something_weird", { problem: "division by zero" })).toBe(Infinity);
  });

  for (const [name, text] of [
    ["bad name", "9metric 1"],
    ["bad value", "m one"],
    ["bad timestamp", "m 1 1.5"],
    ["unterminated label", 'm{a="x} 1'],
    ["bad escape", 'm{a="\\x"} 1'],
    ["duplicate series", "m 1\nm 2"],
    ["TYPE after samples", "m 1\n# TYPE m gauge"],
    ["second TYPE", "# TYPE m gauge\n# TYPE m counter"],
    ["bad type", "# TYPE m meter"],
    ["bucket without le", "# TYPE h histogram\nh_bucket 1"],
  ] as const)
    test(`rejects: ${name}`, () => {
      expect(() => parsePrometheus(text)).toThrow();
    });
});
