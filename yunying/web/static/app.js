/* Yunying web UI: charts (ECharts, served locally) and upload progress. No framework, no CDN. */
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  function chart(el) {
    if (typeof echarts === "undefined") return;
    var data = JSON.parse(el.getAttribute("data-series") || "[]");
    var kind = el.getAttribute("data-chart");
    var xk = el.getAttribute("data-x") || (kind === "line" ? "month" : "dept_name");
    var yk = el.getAttribute("data-y") || "value";
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption({
      animation: false,
      grid: { left: 60, right: 20, top: 20, bottom: kind === "bar" ? 90 : 40 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.map(function (r) { return r[xk]; }),
               axisLabel: { rotate: kind === "bar" ? 45 : 0 } },
      yAxis: { type: "value", scale: kind === "line" },
      series: [{ type: kind, data: data.map(function (r) { return r[yk]; }), smooth: false,
                 itemStyle: { color: "#1f5fa8" } }]
    });
    window.addEventListener("resize", function () { c.resize(); });
  }
  document.querySelectorAll("[data-chart]").forEach(chart);

  // 分摊流向: the step-down as a Sankey (nodes are unit codes; labels come with the data)
  function sankey(el) {
    if (typeof echarts === "undefined") return;
    var d = JSON.parse(el.getAttribute("data-sankey") || "{}"), labels = d.labels || {};
    var unit = el.getAttribute("data-unit") || "";
    var money = function (v) {
      return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + unit;
    };
    var name = function (n) { return labels[n] || n; };
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: function (p) {
        if (p.dataType === "edge") return esc(name(p.data.source)) + " → " + esc(name(p.data.target)) + "<br>" + money(p.data.value);
        return esc(name(p.name)) + "<br>" + money(p.value);
      } },
      series: [{ type: "sankey", data: d.nodes || [], links: d.links || [], nodeAlign: "justify",
                 emphasis: { focus: "adjacency" }, lineStyle: { color: "source", opacity: 0.35 },
                 label: { formatter: function (p) { return name(p.name); } } }]
    });
    window.addEventListener("resize", function () { c.resize(); });
  }
  document.querySelectorAll("[data-sankey]").forEach(sankey);

  var ea = document.getElementById("engine-alerts");
  if (ea) {   // engine alerts load after the page (the engine may need a second on a cold cache)
    fetch(ea.getAttribute("data-src"), { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (d) {
        var box = ea.querySelector(".loading"), en = document.body.getAttribute("data-lang") === "en";
        if (!d.computed) { box.textContent = en ? d.reason_en : d.reason_zh; return; }
        var off = d.rows.filter(function (r) { return r.status_code === "not_met"; });
        if (!off.length) { box.textContent = (en ? "All indicators with a target meet it" : "已设目标的指标均达标") +
          " · " + d.n_computable + "/" + d.rows.length; return; }
        var ul = document.createElement("ul"); ul.className = "alerts";
        off.forEach(function (r) {
          var li = document.createElement("li");
          li.textContent = r.indicator_id + " " + (en ? (r.name_en || r.name) : r.name) + "：" +
            r.value_text + " · " + (en ? "target " : "目标 ") + r.target;
          ul.appendChild(li);
        });
        box.replaceWith(ul);
      }).catch(function () {});
  }

  var i18nEl = document.getElementById("i18n");
  var T = i18nEl ? JSON.parse(i18nEl.innerHTML) : {};

  function n(v) {   // a count as the pages print it (yunying.reports.fmt: whole, no decimals)
    return v === null || v === undefined ? "" : String(Math.round(v));
  }

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  function failure(job) {   // 失败 / 部分失败: the reason (Chinese first + English) and its stable code
    return '<p class="error job-error">' + esc(job.error) + (job.error_code ? " <code>" + esc(job.error_code) +
      "</code>" : "") + "</p>";
  }

  function renderJob(el, job) {
    el.setAttribute("data-status", job.status);
    el.querySelector(".job-status").textContent = T["job_status_" + job.status] || job.status;
    el.querySelector(".job-status").className = "job-status " + job.status;
    var finished = job.status === "done" || job.status === "partial" || job.status === "failed";
    el.querySelector(".job-stage").textContent = finished ? "" : (T["job_stage_" + job.stage] || job.stage);
    el.querySelector(".bar").style.width = job.percent + "%";
    el.querySelector(".bar").className = "bar " + job.status;
    el.querySelector(".pct").textContent = Math.round(job.percent) + "%";
    var out = el.querySelector(".job-result");
    if (job.status === "failed" && !(job.result && job.result.inserted !== undefined)) {
      out.innerHTML = failure(job);
    } else if (finished && job.result) {
      var r = job.result, html = job.status !== "done" ? failure(job) : "";
      if (r.inserted !== undefined) {
        html += "<p><b>" + esc(T.job_result || "") + "</b> " + esc(T.inserted) + " " + n(r.inserted) + " · " +
          esc(T.updated) + " " + n(r.updated) + " · " + esc(T.rejected) + ' <b class="rejected-count">' +
          n(r.rejected) + "</b> · " + esc(T.warnings) + " " + n(r.warnings) + "</p>";
        (r.files || []).forEach(function (f) {
          if (f.status !== "ok") html += '<p class="error">' + esc(f.file) + ": " + esc(f.message) + "</p>";
        });
        var en = document.body.getAttribute("data-lang") === "en";
        if (r.drg_summary_zh) html += '<p class="drg-after">' + esc(en ? r.drg_summary_en : r.drg_summary_zh) + "</p>";
        if (r.drg_error) html += '<p class="error">' + esc(r.drg_error) + "</p>";
        if (r.qc_summary_zh) html += '<p class="qc-after">' + esc(en ? r.qc_summary_en : r.qc_summary_zh) + "</p>";
        if (r.qc_error) html += '<p class="error">' + esc(r.qc_error) + "</p>";
      } else if (r.summary_zh !== undefined) {
        html += "<p>" + esc(document.body.getAttribute("data-lang") === "en" ? r.summary_en : r.summary_zh) + "</p>";
      }
      if (job.rejects && job.rejects.length) {
        html += "<h3>" + esc(T.rejects) + '</h3><table class="grid rejects"><thead><tr><th>' + esc(T.row_no) +
          "</th><th>" + esc(T.field) + "</th><th>" + esc(T.value) + "</th><th>" + esc(T.code) + "</th><th>" +
          esc(T.reason) + "</th></tr></thead><tbody>";
        job.rejects.forEach(function (x) {
          html += "<tr><td>" + esc(x.row_no) + "</td><td>" + esc(x.field) + "</td><td>" + esc(x.value) +
            "</td><td>" + esc(x.code) + "</td><td>" + esc(document.body.getAttribute("data-lang") === "en" ?
            x.reason_en : x.reason_zh) + "</td></tr>";
        });
        html += "</tbody></table>";
      }
      out.innerHTML = html;
    }
  }

  function poll(el) {
    var id = el.getAttribute("data-job");
    fetch("/api/jobs/" + id, { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (job) {
        if (!job || !job.status) return;
        renderJob(el, job);
        if (job.status === "queued" || job.status === "running") setTimeout(function () { poll(el); }, 400);
      });
  }
  document.querySelectorAll("[data-job]").forEach(poll);

  var form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var fd = new FormData(form);
      fetch("/api/imports", { method: "POST", body: fd, credentials: "same-origin",
                              headers: { "X-CSRF-Token": csrf } })
        .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (res) {
          var box = document.getElementById("upload-jobs");
          if (res[0] >= 400) {
            box.innerHTML = '<p class="error">' + esc(res[1].detail) + "</p>";
            return;
          }
          var job = res[1];
          var div = document.createElement("div");
          div.className = "job"; div.id = "job-" + job.id; div.setAttribute("data-job", job.id);
          div.innerHTML = '<div class="jobhead"><b>#' + job.id + "</b> " + esc(job.label) +
            ' · <span class="job-status"></span> <span class="job-stage"></span></div>' +
            '<div class="progress"><div class="bar" style="width:0"></div><span class="pct"></span></div>' +
            '<div class="job-result"></div>';
          box.insertBefore(div, box.firstChild);
          renderJob(div, job);
          poll(div);
        });
    });
  }
})();
