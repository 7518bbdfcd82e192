/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
 * must be a `# HELP`, a `# TYPE` or a sample of a declared family, with well-formed labels and a
 * number, else it throws naming the line. (The npm parsers tried drop histogram labels.)
 */
export interface Sample {
  /** The sample's own name (`x_bucket`, `x_count`, `x_sum` for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
const SUFFIXES = ["_bucket", "_count", "_sum", "_total", "_created"];

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, help: "", type: "untyped", samples: [] }));
    return f;
  };
  for (const [i, line] of text.split("\n").entries()) {
    if (line === "") continue;
    const fail = (why: string) => new Error(`metrics line ${i + 1}: ${why}: ${line}`);
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (!new RegExp(`^${NAME}$`).test(meta[2]!)) throw fail("bad metric name");
      if (meta[1] === "HELP") family(meta[2]!).help = meta[3]!;
      else if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(meta[3]!)) throw fail("bad type");
      else family(meta[2]!).type = meta[3]!;
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw fail("not a sample");
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw fail("bad value");
    const labels: Record<string, string> = {};
    let rest = m[2] ?? "";
    while (rest) {
      const l = LABEL.exec(rest);
      if (!l) throw fail("bad labels");
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      rest = rest.slice(l[0].length);
    }
    const sampleName = m[1]!;
    const owner = families.has(sampleName)
      ? sampleName
      : SUFFIXES.map((s) => (sampleName.endsWith(s) ? sampleName.slice(0, -s.length) : "")).find((n) => n && families.has(n));
    if (!owner) throw fail("a sample of no declared metric");
    family(owner).samples.push({ name: sampleName, labels, value });
  }
  return families;
}

/** GETs `url` (a `/metrics` endpoint), checks the content type and parses it. */
export async function scrapeMetrics(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain")) throw new Error(`GET ${url}: content-type ${type}, not Prometheus text`);
  return parsePrometheusText(await res.text());
}

/**
 * The sum of a metric's samples whose labels include `labels`: a counter's or gauge's values, a
 * histogram's observation count (its `_count` samples).
 */
export function metricValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const own = family.type === "histogram" || family.type === "summary" ? `${name}_count` : undefined;
  return family.samples
    .filter((s) => (own ? s.name === own : true) && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
