// The overview's charts and tables, kept live by server-sent events from /overview/live.
(function () {
  "use strict";
  const initial = JSON.parse(document.getElementById("figures").textContent);
  const palette = ["#1f5fa8", "#b8520b", "#2e7d32", "#6a3d9a", "#8c1d40", "#00695c", "#5d4037", "#455a64"];
  const eventsChart = new Chart(document.getElementById("events-chart"), {
    type: "line",
    data: { labels: [], datasets: [] },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const statusChart = new Chart(document.getElementById("status-chart"), {
    type: "bar",
    data: { labels: [], datasets: [{ label: "bookings", data: [], backgroundColor: "#1f5fa8" }] },
    options: { animation: false, responsive: true, plugins: { legend: { display: false } },
               scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  function draw(figures) {
    const perMinute = figures.events_per_minute;
    eventsChart.data.labels = perMinute.minutes;
    eventsChart.data.datasets = Object.entries(perMinute.series).map(([topic, counts], i) => ({
      label: topic, data: counts, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
      tension: 0,
    }));
    eventsChart.update();
    statusChart.data.labels = Object.keys(figures.bookings_by_status);
    statusChart.data.datasets[0].data = Object.values(figures.bookings_by_status);
    statusChart.update();
    document.getElementById("updated").textContent = "As of " + figures.at + ".";
  }

  draw(initial);
  const live = new EventSource("/overview/live");
  live.addEventListener("figures", (e) => draw(JSON.parse(e.data)));
  const places = { overview_live: "live-tables", overview_events: "events-table", overview_status: "status-table" };
  for (const [name, id] of Object.entries(places)) {
    // Rendered (and escaped) by the server from the same templates as the first page.
    live.addEventListener(name, (e) => { document.getElementById(id).innerHTML = e.data; });
  }
})();
