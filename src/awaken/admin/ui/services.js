// Services with their handlers and schemas; deployments (handlers served elsewhere).

import { get } from "./api.js";
import { errorBox, fill, h } from "./dom.js";
import { summary } from "./schema.js";

function schemaBlock(label, schema, description) {
  if (schema === undefined || schema === null) {
    return h("div", { class: "schema" }, h("span", { class: "muted" }, `${label}: ${description || "none"}`));
  }
  return h("details", { class: "schema" },
    h("summary", {}, `${label}: `, h("code", {}, summary(schema))),
    h("pre", { class: "json" }, JSON.stringify(schema, null, 2)));
}

export function mount(root) {
  const problem = h("div");
  const list = h("div", { class: "services" });
  root.append(h("h1", {}, "Services"), problem, list);
  (async () => {
    try {
      const { services } = await get("/services");
      services.sort((a, b) => a.name.localeCompare(b.name));
      fill(list, ...(services.length ? services.map(serviceCard) : [h("p", { class: "muted" }, "No services.")]));
    } catch (error) {
      fill(problem, errorBox(error));
    }
  })();
}

function serviceCard(svc) {
  const policy = svc.retry_policy ?? {};
  return h("section", { class: "card", "aria-labelledby": `svc-${svc.name}`, "data-service": svc.name },
    h("h2", { id: `svc-${svc.name}` }, h("span", { class: "mono" }, svc.name), " ", h("span", { class: "badge" }, svc.ty)),
    svc.documentation ? h("p", {}, svc.documentation) : null,
    h("p", { class: "muted small" },
      `deployment ${svc.deployment_id} · revision ${svc.revision}`,
      svc.idempotency_retention ? ` · retention ${svc.idempotency_retention}` : "",
      policy.max_attempts !== undefined ? ` · retries: ${policy.max_attempts ?? "unlimited"} attempts from ${policy.initial_interval ?? "?"}, then ${policy.on_max_attempts ?? "pause"}` : ""),
    h("p", {}, h("a", { href: `#/invocations?service=${encodeURIComponent(svc.name)}` }, "Invocations")),
    h("div", { class: "table-wrap" }, h("table", { class: "list", "aria-label": `Handlers of ${svc.name}` },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Handler"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Input and output"))),
      h("tbody", {}, svc.handlers.map((hd) =>
        h("tr", { "data-handler": hd.name },
          h("td", { class: "mono" }, h("a", { href: `#/invocations?service=${encodeURIComponent(svc.name)}&handler=${encodeURIComponent(hd.name)}` }, hd.name)),
          h("td", {}, hd.ty ?? (svc.ty === "Service" ? "—" : ""), hd.public === false ? " (private)" : ""),
          h("td", {},
            schemaBlock("input", hd.input_json_schema, hd.input_description),
            schemaBlock("output", hd.output_json_schema, hd.output_description))))))),
  );
}

export function mountDeployments(root) {
  const problem = h("div");
  const body = h("div");
  root.append(h("h1", {}, "Deployments"),
    h("p", { class: "muted" }, "Endpoints that serve handlers over Restate's service protocol (awaken deployments register)."),
    problem, body);
  (async () => {
    try {
      // The app's own services are listed as one deployment too (awaken://local, Restate's CLI
      // wants them there); this page is about the endpoints registered over the protocol.
      const deployments = (await get("/deployments")).deployments.filter((d) => d.uri !== "awaken://local");
      if (!deployments.length) {
        fill(body, h("p", { class: "muted", id: "no-deployments" }, "No deployment is registered: every service runs in this process."));
        return;
      }
      fill(body, h("div", { class: "table-wrap" }, h("table", { class: "list", "aria-label": "Deployments" },
        h("thead", {}, h("tr", {}, ...["Deployment", "URI", "Protocol", "Services", "Created"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, deployments.map((d) => h("tr", { "data-id": d.id },
          h("td", { class: "mono" }, d.id),
          h("td", { class: "mono" }, d.uri),
          h("td", {}, `${d.protocol_type ?? ""} ${d.http_version ?? ""} v${d.protocol_version ?? d.max_protocol_version ?? "?"}`),
          h("td", {}, (d.services ?? []).map((s) => h("div", { class: "mono" },
            h("a", { href: `#/invocations?service=${encodeURIComponent(s.name)}` }, s.name), ` r${s.revision ?? ""}`))),
          h("td", {}, d.created_at ?? "")))))));
    } catch (error) {
      fill(problem, errorBox(error));
    }
  })();
}
