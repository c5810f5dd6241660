// sdhealth workbench: sliders for the constants, live runs beside the base run, scenarios
// compared and saved. Talks to the JSON API of sdhealth.workbench.app; draws with Plotly.
"use strict";

const state = {
  model: null,        // GET /api/model
  params: {},         // constant name -> value moved away from the model's
  chosen: [],         // variables plotted
  running: false,     // a run is in flight
  again: false,       // settings changed while it was
};

const $ = (id) => document.getElementById(id);

function say(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
  };
  const reply = await fetch(path, options);
  const data = await reply.json();
  if (!reply.ok) {
    const error = new Error(data.error || `the server answered ${reply.status}`);
    error.status = reply.status;
    throw error;
  }
  return data;
}

function sliderStep(low, high) {
  const span = high - low;
  return span > 0 ? span / 200 : 0.01;
}

function constantRow(constant) {
  const row = document.createElement("div");
  row.className = "constant";
  row.dataset.name = constant.name;
  const label = document.createElement("label");
  label.textContent = constant.name + " ";
  const units = document.createElement("span");
  units.className = "units";
  units.textContent = constant.units ? `(${constant.units})` : "";
  label.appendChild(units);
  label.title = [constant.doc, constant.source && `Source: ${constant.source}`]
    .filter(Boolean).join("\n");
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = constant.min;
  slider.max = constant.max;
  slider.step = sliderStep(constant.min, constant.max);
  slider.value = constant.value;
  slider.dataset.name = constant.name;
  slider.setAttribute("aria-label", constant.name);
  const box = document.createElement("input");
  box.type = "number";
  box.step = "any";
  box.value = constant.value;
  box.dataset.name = constant.name;
  box.setAttribute("aria-label", `${constant.name} value`);
  slider.addEventListener("input", () => {
    box.value = slider.value;
    box.classList.remove("invalid");
    set(constant, Number(slider.value), row);
  });
  box.addEventListener("change", () => {
    const text = box.value.trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value)) {
      box.classList.add("invalid");
      say(`${constant.name}: '${text}' is not a number`);
      return;
    }
    box.classList.remove("invalid");
    slider.value = value;
    set(constant, value, row);
  });
  row.append(label, slider, box);
  return row;
}

function set(constant, value, row) {
  if (value === constant.value) {
    delete state.params[constant.name];
  } else {
    state.params[constant.name] = value;
  }
  row.classList.toggle("changed", constant.name in state.params);
  say("");
  run();
}

async function run() {
  if (!state.chosen.length || !state.model) return;
  if (state.running) { state.again = true; return; }
  state.running = true;
  $("status").textContent = "running...";
  try {
    const result = await api("/api/run", {params: state.params, variables: state.chosen});
    draw(result);
    $("status").textContent = `${Object.keys(state.params).length} constant(s) moved`;
  } catch (error) {
    say(error.message);
    $("status").textContent = "run refused";
  } finally {
    state.running = false;
    if (state.again) { state.again = false; run(); }
  }
}

const COLOURS = ["#1f5fa8", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f"];
const DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];

function timeAxis() {
  const time = state.model.time;
  return {title: {text: time && time.units ? `time (${time.units})` : "time"}};
}

function layout() {
  // the legend above the plot, clear of the time axis's title
  return {margin: {t: 30, b: 50}, xaxis: timeAxis(),
          legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom"}};
}

function draw(result) {
  const traces = [];
  state.chosen.forEach((name, i) => {
    const colour = COLOURS[i % COLOURS.length];
    traces.push({x: result.time, y: result.series[name], name: name, mode: "lines",
                 line: {color: colour, width: 2}});
    traces.push({x: result.time, y: result.base[name], name: `${name} (base)`, mode: "lines",
                 line: {color: colour, width: 1, dash: "dash"}});
  });
  Plotly.react("chart", traces, layout(), {responsive: true});
}

function listVariables() {
  const wanted = $("search").value.trim().toLowerCase();
  const list = $("variables");
  list.replaceChildren();
  const names = state.model.variables.filter(n => n.toLowerCase().includes(wanted));
  for (const name of names.slice(0, 200)) {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.value = name;
    tick.checked = state.chosen.includes(name);
    tick.addEventListener("change", () => {
      state.chosen = tick.checked ? [...state.chosen, name] : state.chosen.filter(n => n !== name);
      run();
    });
    label.append(tick, " " + name);
    item.appendChild(label);
    list.appendChild(item);
  }
}

function listScenarios() {
  const box = $("scenarios");
  box.replaceChildren();
  for (const name of ["base", ...state.model.scenarios]) {
    const label = document.createElement("label");
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.value = name;
    label.append(tick, " " + name);
    box.appendChild(label);
  }
}

async function compare() {
  const names = [...$("scenarios").querySelectorAll("input:checked")].map(t => t.value);
  if (names.length < 2) { say("tick two or more scenarios to compare"); return; }
  if (!state.chosen.length) { say("pick a variable to plot first"); return; }
  try {
    const result = await api("/api/compare", {scenarios: names, variables: state.chosen});
    const traces = [];
    // a colour per variable, a line style per scenario
    names.forEach((scenario, i) => {
      state.chosen.forEach((name, j) => {
        traces.push({x: result.time, y: result.runs[scenario][name], mode: "lines",
                     name: `${name}: ${scenario}`,
                     line: {color: COLOURS[j % COLOURS.length], dash: DASHES[i % DASHES.length]}});
      });
    });
    Plotly.react("compare-chart", traces, layout(), {responsive: true});
    say("");
  } catch (error) {
    say(error.message);
  }
}

async function save(event) {
  event.preventDefault();
  const name = $("save-name").value.trim();
  if (!name) { say("give the scenario a name"); return; }
  const body = {name: name, params: state.params};
  try {
    let result;
    try {
      result = await api("/api/scenarios", body);
    } catch (error) {
      if (error.status !== 409 || !window.confirm(`${error.message}`)) throw error;
      result = await api("/api/scenarios", {...body, overwrite: true});
    }
    state.model.scenarios = result.scenarios;
    listScenarios();
    $("status").textContent = `saved ${result.saved}`;
    say("");
  } catch (error) {
    say(error.message);
  }
}

function showIssues(issues) {
  const list = $("issue-list");
  list.replaceChildren();
  for (const issue of issues) {
    const item = document.createElement("li");
    item.className = issue.severity;
    item.textContent = issue.message;
    list.appendChild(item);
  }
  $("issues").hidden = issues.length === 0;
}

function filterConstants() {
  const wanted = $("constant-search").value.trim().toLowerCase();
  for (const row of $("constants").children) {
    row.hidden = !row.dataset.name.toLowerCase().includes(wanted);
  }
}

function reset() {
  state.params = {};
  buildConstants();
  run();
}

function buildConstants() {
  $("constants").replaceChildren(...state.model.constants.map(constantRow));
}

async function start() {
  try {
    state.model = await api("/api/model");
  } catch (error) {
    say(error.message);
    return;
  }
  $("title").textContent = `${state.model.name}: sdhealth workbench`;
  document.title = state.model.name;
  showIssues(state.model.issues);
  buildConstants();
  $("search").addEventListener("input", listVariables);
  $("constant-search").addEventListener("input", filterConstants);
  $("reset").addEventListener("click", reset);
  $("compare").addEventListener("click", compare);
  $("save-form").addEventListener("submit", save);
  listScenarios();
  if (state.model.issues.some(i => i.severity === "error")) {
    $("status").textContent = "the model has errors: fix them and restart";
    return;
  }
  state.chosen = state.model.stocks.slice(0, 3);
  listVariables();
  $("status").textContent = "ready";
  run();
}

start();
