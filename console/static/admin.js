// System Admin: the microgrid's structure and drift, resync with a dry-run
// plan first, and the controller bindings with their form. The capability
// choices are the microgrid's capability statuses (one per capability type).

import { gql } from "./api.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

export async function loadAdmin() {
  const data = await gql("ConsoleAdmin", { depotId: state.depotId });
  const m = data.microgridByDepot;
  const box = $("admin-microgrid");
  $("resync-plan").hidden = true;
  if (m.__typename !== "Microgrid") {
    box.replaceChildren(el("p", { class: "muted" }, m.message));
    $("bindings").tBodies[0].replaceChildren();
    return;
  }
  box.replaceChildren(
    el("dl", { class: "facts" },
       el("dt", {}, "Microgrid id"), el("dd", { "data-role": "microgrid-id" }, m.id),
       el("dt", {}, "Version"), el("dd", { "data-role": "version" }, String(m.version)),
       el("dt", {}, "Drift"), el("dd", { "data-role": "drift" }, describePlan(m.drift))),
    el("h3", {}, "Structure"), tree(m.topology));
  renderBindings(m);
}

function describePlan(plan) {
  if (plan.inSync) return "In sync";
  const parts = [];
  if (plan.added.length) parts.push(`${plan.added.length} to add`);
  if (plan.removed.length) parts.push(`${plan.removed.length} to remove`);
  if (plan.renamed.length) parts.push(`${plan.renamed.length} to rename`);
  if (plan.reordered) parts.push("order differs");
  return `Out of sync: ${parts.join(", ")}`;
}

function tree(nodes) {
  const root = el("ul", { class: "tree", role: "tree", "aria-label": "Microgrid structure" });
  const lists = new Map([[null, root]]);
  for (const node of nodes) {
    const li = el("li", { role: "treeitem" }, el("span", { class: "kind" }, node.kind), node.name);
    const parent = lists.get(node.parentId) || root;
    parent.append(li);
    const children = el("ul", { class: "tree", role: "group" });
    li.append(children);
    lists.set(node.id, children);
  }
  return root;
}

export async function resync() {
  const box = $("resync-plan");
  const dry = (await gql("ConsoleResync", { depotId: state.depotId, dryRun: true })).resyncMicrogrid;
  box.hidden = false;
  if (dry.__typename !== "ResyncSuccess") {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, `${dry.code}: ${dry.message}`));
    return;
  }
  if (dry.plan.inSync) {
    box.replaceChildren(el("p", { "data-role": "plan" }, "Nothing to repair: in sync."));
    return;
  }
  const apply = el("button", { type: "button", id: "resync-apply" }, "Apply resync");
  const cancel = el("button", { type: "button" }, "Cancel");
  box.replaceChildren(el("div", { class: "plan" },
    el("p", { "data-role": "plan" }, `Plan (dry run): ${describePlan(dry.plan)}`), apply, cancel));
  cancel.addEventListener("click", () => { box.hidden = true; });
  apply.addEventListener("click", async () => {
    const done = (await gql("ConsoleResync", { depotId: state.depotId, dryRun: false }))
      .resyncMicrogrid;
    await loadAdmin();
    $("resync-plan").hidden = false;
    $("resync-plan").replaceChildren(el("p", { role: "status", "data-role": "resync-result" },
      done.__typename === "ResyncSuccess"
        ? `Resynced: version ${done.previousVersion} → ${done.microgrid.version}.`
        : `${done.code}: ${done.message}`));
  });
  apply.focus();
}

function renderBindings(microgrid) {
  state.microgridId = microgrid.id;
  const rows = microgrid.controllerBindings.map((b) => {
    const toggle = el("button", { type: "button" }, b.enabled ? "Disable" : "Enable");
    toggle.addEventListener("click", () => toggleBinding(b));
    const edit = el("button", { type: "button" }, "Edit");
    edit.addEventListener("click", () => editBinding(b));
    return el("tr", { "data-binding": b.id },
      el("td", {}, b.device.name), el("td", {}, b.capabilities.join(", ")),
      el("td", {}, b.enabled ? "Enabled" : "Disabled"), el("td", {}, `${b.staleAfterSeconds} s`),
      el("td", {}, b.lastReportedAt ? new Date(b.lastReportedAt).toISOString() : "never"),
      el("td", {}, edit, " ", toggle));
  });
  $("bindings").tBodies[0].replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No controller bindings yet."))]));
  $("binding-device").replaceChildren(...microgrid.depot.devices.map((d) => new Option(d.name, d.id)));
  $("binding-capabilities").replaceChildren(...microgrid.capabilityStatuses.map(({ capability }) =>
    el("label", {}, el("input", { type: "checkbox", name: "capability", value: capability }),
       ` ${capability}`)));
  resetBindingForm();
}

export function resetBindingForm() {
  state.editing = null;
  $("binding-form-title").textContent = "New binding";
  $("binding-save").textContent = "Create binding";
  $("binding-cancel").hidden = true;
  $("binding-stale").value = "300";
  for (const box of document.querySelectorAll("input[name=capability]")) box.checked = false;
  clearErrors();
}

function editBinding(binding) {
  state.editing = binding;
  $("binding-form-title").textContent = `Edit binding of ${binding.device.name}`;
  $("binding-save").textContent = "Save binding";
  $("binding-cancel").hidden = false;
  $("binding-device").value = binding.deviceId;
  $("binding-stale").value = String(binding.staleAfterSeconds);
  for (const box of document.querySelectorAll("input[name=capability]")) {
    box.checked = binding.capabilities.includes(box.value);
  }
  clearErrors();
  $("binding-device").focus();
}

function clearErrors() {
  for (const p of document.querySelectorAll("#binding-form .error")) p.textContent = "";
}

export async function saveBinding(event) {
  event.preventDefault();
  clearErrors();
  const stale = $("binding-stale").value.trim();
  const input = {
    deviceId: $("binding-device").value,
    capabilities: [...document.querySelectorAll("input[name=capability]:checked")].map((b) => b.value),
    staleAfterSeconds: stale === "" ? null : Number(stale),
  };
  const data = state.editing
    ? await gql("ConsoleUpdateBinding", { input: { id: state.editing.id, ...input } })
    : await gql("ConsoleCreateBinding", { input: { microgridId: state.microgridId, ...input } });
  showBindingResult(data.result);
}

function showBindingResult(result) {
  if (result.__typename === "ControllerBinding") {
    loadAdmin();
    return;
  }
  if (result.__typename === "ValidationFailed") {
    for (const error of result.fieldErrors) {
      const slot = document.querySelector(`#binding-form .error[data-for="${error.field}"]`)
        || $("binding-form-error");
      slot.textContent = error.message;
    }
  } else {
    $("binding-form-error").textContent = result.message;
  }
}

async function toggleBinding(binding) {
  const data = await gql(binding.enabled ? "ConsoleDisableBinding" : "ConsoleEnableBinding",
                         { id: binding.id });
  if (data.result.__typename === "ControllerBinding") await loadAdmin();
  else $("binding-form-error").textContent = data.result.message;
}
