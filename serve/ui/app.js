// tinychat's chat page: talks to this server's OpenAI-compatible API with fetch, streaming
// replies as server-sent events. Text is only ever set with textContent (never parsed as HTML).
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  models: [],      // from /v1/models
  history: [],     // the conversation: {role, content}
  epoch: 0,        // counts new chats, so that a reply stopped by one is not kept
  controller: null // aborts the running request
};

function apiKey() { return $("api-key").value.trim(); }

function headers() {
  const h = { "Content-Type": "application/json" };
  if (apiKey()) h["Authorization"] = "Bearer " + apiKey();
  return h;
}

function setStatus(text) { $("status").textContent = text; }

function currentModel() { return state.models.find((m) => m.id === $("model").value); }

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (e) { /* not JSON */ }
  return resp.status + " " + resp.statusText;
}

async function loadModels() {
  const resp = await fetch("v1/models", { headers: headers() });
  if (!resp.ok) {
    if (resp.status === 401) $("settings").open = true;
    setStatus("Cannot list the models: " + (await errorMessage(resp)));
    return;
  }
  const list = await resp.json();
  state.models = list.data || [];
  const sel = $("model");
  const keep = sel.value;
  sel.replaceChildren();
  for (const m of state.models) {
    const opt = document.createElement("option");
    opt.value = m.id;
    opt.textContent = m.id;
    sel.append(opt);
  }
  if (state.models.some((m) => m.id === keep)) sel.value = keep;
  showModelInfo();
  setStatus("");
}

function showModelInfo() {
  const m = currentModel();
  $("model-info").textContent = m
    ? `${m.stage} model · ${m.parameters.toLocaleString()} parameters · context ${m.context_length} tokens` +
      (m.chat ? "" : " · base model: continues your text") + (m.tools ? " · runs tools" : "")
    : "";
}

function addMessage(role, text) {
  $("empty").hidden = true;
  const div = document.createElement("div");
  div.className = "msg " + role;
  const span = document.createElement("span");
  span.className = "text";
  span.textContent = text;
  div.append(span);
  $("messages").append(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function addMeta(div, text) {
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = text;
  div.append(meta);
}

// extras returns the bubble's collapsible block of a kind ("context": the passages put before
// the question; "tools": the tool calls the server ran), made before the reply's text on
// first use.
function extras(bubble, kind) {
  let block = bubble.querySelector("details." + kind);
  if (!block) {
    block = document.createElement("details");
    block.className = kind;
    block.open = kind === "tools";
    block.append(document.createElement("summary"));
    bubble.insertBefore(block, bubble.querySelector(".text"));
  }
  return block;
}

function addLine(block, className, text) {
  const div = document.createElement("div");
  div.className = className;
  div.textContent = text;
  block.append(div);
}

// showContext lists the passages of the request's context turn.
function showContext(bubble, passages) {
  const block = extras(bubble, "context");
  for (const p of passages) addLine(block, "passage", `${p.doc}#${p.id}: ${p.text}`);
  const n = block.querySelectorAll(".passage").length;
  block.querySelector("summary").textContent = n === 1 ? "1 passage in context" : `${n} passages in context`;
}

// showToolCall adds a tool call the server ran, with its result: "calc 3*28 → 84".
function showToolCall(bubble, call) {
  const block = extras(bubble, "tools");
  const f = call.function || {};
  const text = f.arguments ? `${f.name} ${f.arguments}` : f.name;
  addLine(block, "tool-call" + (call.is_error ? " failed" : ""), `${text} → ${call.output}`);
  const n = block.querySelectorAll(".tool-call").length;
  block.querySelector("summary").textContent = n === 1 ? "1 tool call" : `${n} tool calls`;
}

function busy(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
}

function numberField(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

// send posts the message and streams the reply into a new bubble.
async function send(text) {
  const m = currentModel();
  if (!m) { setStatus("No model is loaded."); return; }
  addMessage("user", text);
  const body = {
    model: m.id,
    stream: true,
    stream_options: { include_usage: true },
    temperature: numberField("temperature"),
    top_p: numberField("top-p"),
    max_tokens: numberField("max-tokens"),
    seed: numberField("seed"),
  };
  let url = "v1/chat/completions";
  const system = $("system").value.trim();
  if (m.chat) {
    state.history.push({ role: "user", content: text });
  } else {
    url = "v1/completions";
    body.prompt = text;
  }
  const bubble = addMessage("assistant", "");
  bubble.classList.add("streaming");
  const out = bubble.querySelector(".text");
  let reply = "", finish = "", usage = null, stopped = false;
  const epoch = state.epoch;
  state.controller = new AbortController();
  busy(true);
  setStatus("Generating…");
  const started = performance.now();
  try {
    let resp, dropped = 0;
    for (;;) {
      if (m.chat) body.messages = (system ? [{ role: "system", content: system }] : []).concat(state.history);
      resp = await fetch(url, { method: "POST", headers: headers(), body: JSON.stringify(body), signal: state.controller.signal });
      if (resp.ok) break;
      const err = await resp.json().catch(() => null);
      // A tiny model's context is short: drop the oldest exchange and try again.
      if (m.chat && err?.error?.code === "context_length_exceeded" && state.history.length > 2) {
        state.history.splice(0, 2);
        dropped += 2;
        continue;
      }
      throw new Error(err?.error?.message ?? resp.status + " " + resp.statusText);
    }
    if (dropped > 0) setStatus(`The ${dropped} oldest messages no longer fit in the model's context: left out.`);
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "", yielded = performance.now();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      // A fast model keeps the stream's buffer full, and reads that resolve at once never let
      // the page handle a click (Stop): give the event loop a turn every few frames.
      if (performance.now() - yielded > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        yielded = performance.now();
      }
      buf += decoder.decode(value, { stream: true });
      let sep;
      while ((sep = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices || []) {
            if (m.chat && c.delta) {
              if (c.delta.context) showContext(bubble, c.delta.context);
              for (const call of c.delta.executed_tool_calls || []) showToolCall(bubble, call);
            }
            const piece = m.chat ? (c.delta && c.delta.content) : c.text;
            if (piece) reply += piece;
            if (c.finish_reason) finish = c.finish_reason;
          }
        }
      }
      // One update per read, not per token: a fast model sends thousands of events a second.
      if (out.textContent.length !== reply.length) {
        out.textContent = reply;
        bubble.scrollIntoView({ block: "end" });
      }
    }
  } catch (e) {
    if (e.name === "AbortError") {
      stopped = true;
    } else {
      bubble.classList.add("error");
      addMeta(bubble, "Error: " + e.message);
      if (m.chat) state.history.pop(); // the user turn got no reply: let it be sent again
    }
  } finally {
    bubble.classList.remove("streaming");
    busy(false);
    state.controller = null;
    if ($("status").textContent === "Generating…") setStatus("");
  }
  if (bubble.classList.contains("error") || epoch !== state.epoch) return;
  if (m.chat) state.history.push({ role: "assistant", content: reply });
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  if (stopped) {
    bubble.classList.add("stopped");
    addMeta(bubble, `stopped · ${secs} s`);
  } else {
    const tokens = usage ? `${usage.completion_tokens} tokens · ` : "";
    addMeta(bubble, `${tokens}${finish === "length" ? "cut at max tokens · " : ""}${secs} s`);
  }
}

function newChat() {
  if (state.controller) state.controller.abort();
  state.epoch++;
  state.history = [];
  for (const el of [...$("messages").querySelectorAll(".msg")]) el.remove();
  $("empty").hidden = false;
  $("input").focus();
}

function submit(ev) {
  if (ev) ev.preventDefault();
  const text = $("input").value.trim();
  if (!text || state.controller) return;
  $("input").value = "";
  send(text);
}

$("composer").addEventListener("submit", submit);
$("input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) submit(ev);
});
$("stop").addEventListener("click", () => { if (state.controller) state.controller.abort(); });
$("new-chat").addEventListener("click", newChat);
$("model").addEventListener("change", () => { showModelInfo(); newChat(); });
$("api-key").addEventListener("change", () => {
  try { sessionStorage.setItem("tinychat-api-key", apiKey()); } catch (e) { /* storage off */ }
  loadModels();
});
try { $("api-key").value = sessionStorage.getItem("tinychat-api-key") || ""; } catch (e) { /* storage off */ }
loadModels();
