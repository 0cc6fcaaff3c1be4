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

  // Leaflet reads a string tooltip or attribution as HTML. Camera ids and names, plates and owner names come from
  // other people (another agency, a camera's payload), so a tooltip gets an element holding the text, and the
  // attribution (a string only) the text escaped: markup is never built from data.
  function label(text) {
    const span = document.createElement("span");
    span.textContent = text;
    return span;
  }
  const escaped = (text) => label(text).innerHTML;

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
      L.tileLayer(data.tiles, { attribution: escaped(data.attribution), maxZoom: 19 }).addTo(map);
    } else {
      element.classList.add("plain");
      map.attributionControl.addAttribution(escaped("Camera positions " + data.attribution));
    }
    map.attributionControl.setPrefix("Leaflet");
    L.control.scale({ metric: true, imperial: true }).addTo(map);
    const cameras = L.layerGroup(
      data.cameras.map((c) =>
        L.circleMarker([c.lat, c.lon], {
          radius: 4, color: "#55606e", weight: 1, fillOpacity: 0.6, className: c.silent ? "camera silent" : "camera",
        })
          .bindTooltip(label(`camera ${c.id}: ${c.name}`)))
    ).addTo(map);
    return { map, cameras };
  }

  // A polygon typed as "lat,lon;lat,lon;..." as [[lat, lon], ...] (pairs that are not two numbers left out).
  const parseRing = (text) => (text || "").split(";").map((p) => p.split(",").map(Number))
    .filter((p) => p.length === 2 && p.every(Number.isFinite));

  function searchedArea(searched) {
    if (!searched) return null;
    const style = { color: "#7c3aed", weight: 2, dashArray: "6 4", fillOpacity: 0.08, interactive: false, className: "searched" };
    const ring = parseRing(searched.polygon);
    if (ring.length >= 3) return L.polygon(ring, style);
    const [lat, lon, radius] = [searched.lat, searched.lon, searched.radius_m].map(Number);
    if (searched.lat && searched.lon && [lat, lon, radius].every(Number.isFinite) && radius > 0) {
      return L.circle([lat, lon], { ...style, radius });
    }
    return null;
  }

  // How far an area reaches from its centre, as the policy gate measures it: a circle's radius, or a polygon's
  // bounding radius (the farthest corner from the mean of the corners).
  function reach(ring, centre, radius) {
    if (ring.length >= 3) {
      const mid = L.latLng(ring.reduce((a, p) => a + p[0], 0) / ring.length, ring.reduce((a, p) => a + p[1], 0) / ring.length);
      return { centre: mid, radius: Math.max(...ring.map((p) => mid.distanceTo(p))) };
    }
    return centre && radius > 0 ? { centre: L.latLng(centre), radius } : null;
  }

  const results = document.getElementById("results-map");
  if (results) {
    const reads = [...data.reads].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    const shown = reads.length ? reads : data.cameras;
    const { map } = baseMap(results, shown.map((p) => [p.lat, p.lon]));
    const byPlate = new Map();
    reads.forEach((r, i) => {
      L.circleMarker([r.lat, r.lon], { radius: 7, color: "#b3261e", weight: 2, fillOpacity: 0.8, className: "read" })
        .bindTooltip(label(`${i + 1}. ${window.plateledgerTime(r.ts)} ${r.plate} at ${r.camera} (${r.owner})`))
        .addTo(map);
      if (!byPlate.has(r.plate)) byPlate.set(r.plate, []);
      byPlate.get(r.plate).push([r.lat, r.lon]);
    });
    byPlate.forEach((path) => {
      if (path.length > 1) L.polyline(path, { color: "#1d4ed8", weight: 3, opacity: 0.8, className: "route" }).addTo(map);
    });
    // The area an area search covered, as it was typed or drawn; the view takes it in.
    const area = searchedArea(data.searched);
    if (area) {
      area.addTo(map);
      const bounds = area.getBounds();
      reads.forEach((r) => bounds.extend([r.lat, r.lon]));
      map.fitBounds(bounds.pad(0.1), { animate: false });
    }
  }

  // The area picker: a click sets the centre of a circle; in draw mode, clicks (or "add the map centre", for the
  // keyboard) add the corners of a polygon, which "close" writes into the same polygon field a typed one uses.
  const pick = document.getElementById("pick-map");
  if (pick) {
    const $ = (id) => document.getElementById(id);
    const [lat, lon, radius, polygon, status] = ["lat", "lon", "radius_m", "polygon", "draw-status"].map($);
    const tools = { start: $("draw-start"), corner: $("draw-corner"), close: $("draw-close"), clear: $("draw-clear") };
    let made = null;
    let circle = null;
    let shape = null;
    let corners = null; // [[lat, lon], ...] while drawing
    const say = (text) => { status.textContent = text; };
    const typed = () => parseRing(polygon.value);
    // The owners' area limits for this user (largest first), from their policies; the gate decides each search.
    const limits = data.limits || [];
    const largest = limits.length ? limits[0].radius_m : 0;
    const warning = $("area-warning");
    let limitCircle = null;
    const metres = (m) => `${Math.round(m).toLocaleString("en-US")} m`;
    const feedback = () => {
      if (limitCircle) limitCircle.remove();
      limitCircle = null;
      const centre = lat.value && lon.value ? [Number(lat.value), Number(lon.value)] : null;
      const area = reach(corners || typed(), centre, Number(radius.value));
      warning.classList.remove("over");
      if (!area || !Number.isFinite(area.radius)) {
        warning.textContent = "";
        return;
      }
      if (made && largest) {
        limitCircle = L.circle(area.centre, {
          radius: largest, color: "#55606e", weight: 1, dashArray: "4 4", fill: false, interactive: false, className: "limit",
        }).addTo(made.map);
      }
      const over = limits.filter((a) => area.radius > a.radius_m);
      const size = `This area reaches ${metres(area.radius)} from its centre`;
      if (!limits.length) warning.textContent = `${size}; no data owner allows you area searches: it will be refused.`;
      else if (over.length === limits.length) warning.textContent = `${size}: more than any owner allows (at most ${metres(largest)}). Every owner will refuse it.`;
      else if (over.length) warning.textContent = `${size}: more than ${over.map((a) => `${a.owner} (${metres(a.radius_m)})`).join(", ")} allow${over.length === 1 ? "s" : ""}; their reads will be withheld.`;
      else warning.textContent = `${size}: within every owner's limit (the dashed circle: ${metres(largest)}).`;
      warning.classList.toggle("over", over.length > 0 || !limits.length);
    };
    const drawCircle = () => {
      feedback();
      if (circle) circle.remove();
      circle = null;
      if (!made || !lat.value || !lon.value) return;
      const centre = [Number(lat.value), Number(lon.value)];
      circle = L.circle(centre, { radius: Number(radius.value) || 500, color: "#1d4ed8", interactive: false }).addTo(made.map);
    };
    const drawShape = () => {
      feedback();
      if (shape) shape.remove();
      shape = null;
      const points = corners || typed();
      if (!made || !points.length) return;
      const style = { color: "#1d4ed8", weight: 2, interactive: false, className: "drawn" };
      shape = (corners ? L.polyline(points, style) : L.polygon(points, style)).addTo(made.map);
    };
    const drawing = (on) => {
      tools.start.disabled = on;
      tools.corner.disabled = !on;
      tools.close.disabled = !on;
      pick.classList.toggle("drawing", on);
      if (made) made.map.doubleClickZoom[on ? "disable" : "enable"](); // quick corners are not a zoom
    };
    const addCorner = (latlng) => {
      corners.push([latlng.lat, latlng.lng]);
      drawShape();
      const n = corners.length;
      say(`${n} corner${n === 1 ? "" : "s"}: ${n < 3 ? "add at least 3" : "close the polygon when done"}.`);
    };
    const show = (area) => {
      if (!area || made) return;
      made = baseMap(pick, data.cameras.map((c) => [c.lat, c.lon]));
      // Open where the largest allowed radius is visible: around the area given, else the cameras' centre.
      const given = reach(typed(), lat.value && lon.value ? [Number(lat.value), Number(lon.value)] : null, Number(radius.value));
      const across = 3 * Math.max(given ? given.radius : 0, largest);
      if (across > 0) made.map.fitBounds((given ? given.centre : made.map.getCenter()).toBounds(across), { animate: false });
      made.map.on("click", (event) => {
        if (corners) {
          addCorner(event.latlng);
          return;
        }
        lat.value = event.latlng.lat.toFixed(6);
        lon.value = event.latlng.lng.toFixed(6);
        if (!radius.value) radius.value = "500";
        polygon.value = "";
        drawShape();
        drawCircle();
      });
      drawCircle();
      drawShape();
    };
    tools.start.addEventListener("click", () => {
      show(true);
      corners = [];
      [lat, lon, radius, polygon].forEach((input) => { input.value = ""; });
      drawCircle();
      drawShape();
      drawing(true);
      say("Drawing: click the map to add corners in order around the area.");
    });
    tools.corner.addEventListener("click", () => { if (corners) addCorner(made.map.getCenter()); });
    tools.close.addEventListener("click", () => {
      if (!corners || corners.length < 3) {
        say("A polygon needs at least 3 corners.");
        return;
      }
      polygon.value = corners.map(([a, b]) => `${a.toFixed(6)},${b.toFixed(6)}`).join(";");
      const n = corners.length;
      corners = null;
      drawing(false);
      drawShape();
      say(`Polygon of ${n} corners closed; it is in the polygon field.`);
    });
    tools.clear.addEventListener("click", () => {
      corners = null;
      polygon.value = "";
      drawing(false);
      drawShape();
      say("Polygon cleared.");
    });
    [lat, lon, radius].forEach((input) => ["change", "input"].forEach((kind) => input.addEventListener(kind, drawCircle)));
    polygon.addEventListener("input", drawShape);
    polygon.addEventListener("change", () => {
      if (polygon.value && !lat.value && !lon.value) radius.value = "";
      drawShape();
    });
    document.addEventListener("plateledger:mode", (event) => show(event.detail.area));
    show(document.getElementById("search-form")?.classList.contains("mode-area"));
  }
})();
