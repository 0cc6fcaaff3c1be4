// Maps with Leaflet (served from the Debian package under /ui/vendor/leaflet/). With no tile server configured
// the map draws cameras, reads and paths on a plain background, with a scale and the attribution.
"use strict";

(function () {
  const source = document.getElementById("map-data");
  if (!source || typeof L === "undefined") {
    document.querySelectorAll(".map").forEach((el) => {
      el.textContent = "The map library is not installed on this server (see docs/web.md).";
    });
    return;
  }
  const data = JSON.parse(source.textContent);

  function fit(map, points) {
    if (points.length === 1) map.setView(points[0], 15);
    else if (points.length > 1) map.fitBounds(L.latLngBounds(points).pad(0.15));
    else map.setView([37.5, -120], 6);
  }

  // A map fitted to `points` (the view is set before any layer is added), with the cameras drawn on it.
  function baseMap(element, points) {
    const map = L.map(element, { preferCanvas: false, keyboard: true });
    fit(map, points);
    if (data.tiles) {
      L.tileLayer(data.tiles, { attribution: data.attribution, maxZoom: 19 }).addTo(map);
    } else {
      element.classList.add("plain");
      map.attributionControl.addAttribution("Camera positions " + data.attribution);
    }
    map.attributionControl.setPrefix("Leaflet");
    L.control.scale({ metric: true, imperial: true }).addTo(map);
    const cameras = L.layerGroup(
      data.cameras.map((c) =>
        L.circleMarker([c.lat, c.lon], { radius: 4, color: "#55606e", weight: 1, fillOpacity: 0.6, className: "camera" })
          .bindTooltip(`camera ${c.id}: ${c.name}`))
    ).addTo(map);
    return { map, cameras };
  }

  const results = document.getElementById("results-map");
  if (results) {
    const reads = [...data.reads].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    const shown = reads.length ? reads : data.cameras;
    const { map } = baseMap(results, shown.map((p) => [p.lat, p.lon]));
    const byPlate = new Map();
    reads.forEach((r, i) => {
      L.circleMarker([r.lat, r.lon], { radius: 7, color: "#b3261e", weight: 2, fillOpacity: 0.8, className: "read" })
        .bindTooltip(`${i + 1}. ${r.ts} ${r.plate} at ${r.camera} (${r.owner})`)
        .addTo(map);
      if (!byPlate.has(r.plate)) byPlate.set(r.plate, []);
      byPlate.get(r.plate).push([r.lat, r.lon]);
    });
    byPlate.forEach((path) => {
      if (path.length > 1) L.polyline(path, { color: "#1d4ed8", weight: 3, opacity: 0.8, className: "route" }).addTo(map);
    });
  }

  const pick = document.getElementById("pick-map");
  if (pick) {
    let made = null;
    let circle = null;
    const lat = document.getElementById("lat");
    const lon = document.getElementById("lon");
    const radius = document.getElementById("radius_m");
    const draw = () => {
      if (!made || !lat.value || !lon.value) return;
      const centre = [Number(lat.value), Number(lon.value)];
      if (circle) circle.remove();
      circle = L.circle(centre, { radius: Number(radius.value) || 500, color: "#1d4ed8" }).addTo(made.map);
    };
    const show = (area) => {
      if (!area || made) return;
      made = baseMap(pick, data.cameras.map((c) => [c.lat, c.lon]));
      made.map.on("click", (event) => {
        lat.value = event.latlng.lat.toFixed(6);
        lon.value = event.latlng.lng.toFixed(6);
        draw();
      });
      draw();
    };
    [lat, lon, radius].forEach((input) => input.addEventListener("change", draw));
    document.addEventListener("plateledger:mode", (event) => show(event.detail.area));
    show(document.getElementById("search-form")?.classList.contains("mode-area"));
  }
})();
