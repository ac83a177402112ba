// Meridian dashboard: draws the snapshots the server pushes (GET /api/events, one per update)
// or, in a static replay, the recording embedded in the page. No framework, no build step:
// plain DOM and SVG for the topology and the tables, uPlot for the charts. Every state is
// written out in words ("partitioned", "down"); colours only repeat them.
(function () {
  'use strict';

  const SVGNS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#1a73e8', '#d93025', '#188038', '#e37400', '#9334e6', '#007b83', '#c5221f', '#5f6368', '#b06000', '#3949ab'];
  const MAX_POINTS = 1200;
  const $ = (sel, root) => (root || document).querySelector(sel);

  // ---- small helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  const known = (v) => v !== null && v !== undefined && Number.isFinite(v);
  function num(v, digits) {
    if (!known(v)) return '—';
    const d = digits === undefined ? 1 : digits;
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(d);
  }
  const ms = (v) => (known(v) ? num(v) + ' ms' : '—');
  const perS = (v) => (known(v) ? num(v) + '/s' : '—');
  const int = (v) => (v === null || v === undefined ? '—' : String(v));
  const pct = (v) => (known(v) ? (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%' : '—');
  const clock = (msEpoch) => new Date(msEpoch).toLocaleTimeString();
  const shortId = (id) => (id && id.length > 8 ? id.slice(0, 8) + '…' : id || '—');

  function regionState(r) {
    if (r.state === 'down') return 'down';
    if (r.partitioned) return 'partitioned';
    if (r.health !== 'up') return 'degraded';
    return 'up';
  }

  function colorOf(snap, region) {
    const i = snap.regions.findIndex((r) => r.name === region);
    return COLORS[(i < 0 ? 0 : i) % COLORS.length];
  }

  // ---- state ---------------------------------------------------------------------------

  const replayData = document.getElementById('replay-data');
  const replay = replayData ? JSON.parse(replayData.textContent) : null;
  let points = [];
  let current = null;
  let cursorT = null;

  // ---- header --------------------------------------------------------------------------

  function renderHeader(s) {
    const c = s.cluster;
    let line = c.mode ? c.mode : 'no region answered';
    if (c.primary) line += ' · primary ' + c.primary + ' (epoch ' + c.epoch + ')';
    line += ' · ' + c.regions_up + ' of ' + c.regions + ' regions up';
    line += ' · ' + s.totals.conflicts + ' conflicts, ' + s.totals.lost_writes + ' lost writes counted';
    if (c.link_source) line += ' · links: ' + c.link_source;
    $('#cluster-line').textContent = line;
    $('#update-seq').textContent = String(s.seq);
    $('#update-time').textContent = 'at ' + clock(s.at_ms) + ', every ' + (s.interval_ms / 1000) + ' s';
    const phase = $('#phase');
    phase.hidden = !s.phase;
    phase.textContent = s.phase ? 'now: ' + s.phase : '';
    $('#token-row').hidden = !(s.controls.token_required && s.controls.enabled);
  }

  function setConn(text, good) {
    const c = $('#conn');
    c.textContent = text;
    c.className = 'conn ' + (good ? 'conn-live' : 'conn-down');
  }

  // ---- topology ------------------------------------------------------------------------

  const BOX_W = 230;
  const BOX_H = 108;

  function layout(n, w, h) {
    if (n === 1) return [[w / 2, h / 2]];
    if (n === 2) return [[w * 0.22, h / 2], [w * 0.78, h / 2]];
    const out = [];
    for (let i = 0; i < n; i++) {
      const a = -Math.PI / 2 + (i * 2 * Math.PI) / n;
      out.push([w / 2 + (w / 2 - BOX_W / 2 - 20) * Math.cos(a), h / 2 + 8 + (h / 2 - BOX_H / 2 - 16) * Math.sin(a)]);
    }
    return out;
  }

  // Where a ray from a box's centre towards (dx, dy) leaves the box (plus a margin).
  function clip(dx, dy) {
    const len = Math.hypot(dx, dy) || 1;
    const ux = dx / len;
    const uy = dy / len;
    const t = Math.min((BOX_W / 2 + 8) / (Math.abs(ux) || 1e-9), (BOX_H / 2 + 8) / (Math.abs(uy) || 1e-9));
    return t;
  }

  function linkLabel(l) {
    let first = known(l.latency_ms) ? num(l.latency_ms, 0) + '±' + num(l.jitter_ms, 0) + ' ms' : 'setting unknown';
    if (known(l.loss) && l.loss > 0) first += ' · loss ' + pct(l.loss);
    let second;
    const pending = int(known(l.backlog) ? l.backlog : l.pending) + ' behind';
    switch (l.state) {
      case 'ok':
        if (known(l.lag_ms)) second = 'lag ' + num(l.lag_ms) + ' ms · ' + pending;
        else if (known(l.lag_p50_ms)) second = 'last lag ' + num(l.last_lag_ms) + ' ms · ' + pending;
        else second = 'no writes yet · ' + pending;
        break;
      case 'partitioned':
        second = 'PARTITIONED · ' + pending;
        break;
      default:
        second = l.state.toUpperCase() + (known(l.backlog) || known(l.pending) ? ' · ' + pending : '');
    }
    return [first, second];
  }

  function renderTopology(s) {
    const root = $('#topology');
    const W = 960;
    const H = 470;
    root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    root.replaceChildren();
    const defs = svg('defs');
    for (const [id, color] of [['ok', '#1a73e8'], ['partitioned', '#c62828'], ['down', '#616161'], ['disconnected', '#b26a00'], ['unknown', '#b26a00']]) {
      defs.append(svg('marker', { id: 'arrow-' + id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: color })));
    }
    root.append(defs);
    const pos = layout(s.regions.length, W, H);
    const at = {};
    s.regions.forEach((r, i) => { at[r.name] = pos[i]; });
    const links = svg('g', { class: 'links' });
    for (const l of s.links) {
      const a = at[l.from];
      const b = at[l.to];
      if (!a || !b) continue;
      const dx = b[0] - a[0];
      const dy = b[1] - a[1];
      const len = Math.hypot(dx, dy) || 1;
      // The two directions of a pair run side by side, each offset to its own right.
      const nx = -dy / len;
      const ny = dx / len;
      const off = 9;
      const ta = clip(dx, dy);
      const x1 = a[0] + (dx / len) * ta + nx * off;
      const y1 = a[1] + (dy / len) * ta + ny * off;
      const x2 = b[0] - (dx / len) * ta + nx * off;
      const y2 = b[1] - (dy / len) * ta + ny * off;
      const g = svg('g', { class: 'link link-' + l.state, 'data-link': l.from + '>' + l.to, 'data-state': l.state });
      const [first, second] = linkLabel(l);
      g.append(svg('title', { text: l.from + ' → ' + l.to + ': ' + l.state + '; ' + first + '; ' + second }));
      g.append(svg('line', { x1, y1, x2, y2, 'marker-end': 'url(#arrow-' + l.state + ')' }));
      // Labels are wide: beside a steep arrow they need more room than beside a flat one.
      const gap = 22 + 46 * Math.abs(nx);
      const mx = (x1 + x2) / 2 + nx * gap;
      const my = (y1 + y2) / 2 + ny * gap + 4;
      const label = svg('text', { class: 'label', x: mx, y: my - 6, 'text-anchor': 'middle' });
      label.append(svg('tspan', { x: mx, dy: 0, text: first }));
      label.append(svg('tspan', { x: mx, dy: 13, text: second }));
      g.append(label);
      links.append(g);
    }
    root.append(links);
    s.regions.forEach((r, i) => {
      const [cx, cy] = pos[i];
      const state = regionState(r);
      const g = svg('g', { class: 'region state-' + state, 'data-region': r.name, 'data-state': r.state });
      g.append(svg('rect', { class: 'box', x: cx - BOX_W / 2, y: cy - BOX_H / 2, width: BOX_W, height: BOX_H, rx: 8 }));
      const x = cx - BOX_W / 2 + 10;
      let y = cy - BOX_H / 2 + 19;
      const line = (text, cls) => {
        g.append(svg('text', { x, y, class: cls || '', text }));
        y += 17;
      };
      line(r.name + (r.role ? ' · ' + r.role : ''), 'name');
      line(r.health.length > 34 ? r.health.slice(0, 33) + '…' : r.health, 'words');
      if (r.state === 'up') {
        line('writes ' + perS(r.write_rate) + ' · reads ' + perS(r.read_rate));
        line('latency p50 ' + num(r.latency && r.latency.p50_ms) + ' / p99 ' + num(r.latency && r.latency.p99_ms) + ' ms');
        let last = 'peers reachable ' + r.reachable_peers + '/' + r.peers + (r.majority ? ' (majority)' : ' (no majority)');
        if (known(r.rpo_lag_ms)) last = 'RPO lag ' + ms(r.rpo_lag_ms) + ' · epoch ' + r.epoch;
        line(last);
      } else {
        line(r.error ? (r.error.length > 34 ? r.error.slice(0, 33) + '…' : r.error) : 'no answer');
      }
      g.append(svg('title', { text: r.name + ': ' + r.health + (r.error ? ' (' + r.error + ')' : '') }));
      root.append(g);
    });
  }

  // ---- region cards --------------------------------------------------------------------

  function button(action, attrs, text) {
    return el('button', Object.assign({ type: 'button', 'data-action': action }, attrs), text);
  }

  function renderRegions(s) {
    const box = $('#regions');
    const names = s.regions.map((r) => r.name);
    for (const card of Array.from(box.children)) {
      if (!names.includes(card.dataset.region)) card.remove();
    }
    const aurora = s.cluster.mode === 'aurora-global';
    s.regions.forEach((r, i) => {
      let card = box.querySelector('.region-card[data-region="' + CSS.escape(r.name) + '"]');
      if (!card) {
        card = el('div', { class: 'region-card', 'data-region': r.name },
          el('h3', {}, el('span', { class: 'rname', text: r.name }), el('span', { class: 'badge role' })),
          el('div', { class: 'health', 'data-field': 'health' }),
          el('dl', {}),
          el('div', { class: 'buttons live-only' },
            button('partition', { 'data-region': r.name }, 'partition'),
            button('heal', { 'data-region': r.name }, 'heal'),
            button('switchover', { 'data-region': r.name }, 'switchover here'),
            button('failover', { 'data-region': r.name }, 'failover here'),
            button('rejoin', { 'data-region': r.name }, 'rejoin'),
            button('kill', { 'data-region': r.name }, 'kill'),
            button('restart', { 'data-region': r.name }, 'restart')));
        if (i >= box.children.length) box.append(card);
        else box.insertBefore(card, box.children[i]);
      }
      const state = regionState(r);
      card.className = 'region-card state-' + state;
      card.dataset.state = r.state;
      const role = card.querySelector('.role');
      role.textContent = r.role || r.state;
      role.className = 'badge role ' + (r.role || '');
      const health = card.querySelector('.health');
      health.textContent = r.health;
      health.className = 'health state-' + state;
      const rows = [];
      if (r.state === 'up') {
        rows.push(['writes', perS(r.write_rate) + ' (' + int(r.writes_local) + ' since start)', 'write_rate']);
        rows.push(['reads', perS(r.read_rate) + (r.read_rate_source ? ' (from ' + r.read_rate_source + ')' : ''), 'read_rate']);
        rows.push(['client latency', r.latency ? num(r.latency.p50_ms) + ' / ' + num(r.latency.p99_ms) + ' ms p50 / p99 (' + r.latency.source + ', ' + r.latency.samples + ' ops)' : '—', 'latency']);
        rows.push(['conflicts', int(r.conflicts) + ' (' + perS(r.conflict_rate) + ')', 'conflicts']);
        rows.push(['lost writes', int(r.lost_writes) + ' (' + perS(r.lost_rate) + ')', 'lost_writes']);
        rows.push(['keys', int(r.items), 'items']);
        rows.push(['peers reachable', r.reachable_peers + ' of ' + r.peers + (r.majority ? ' — a majority' : ' — no majority'), 'peers']);
        rows.push(['writable', r.writable ? 'yes' : 'no', 'writable']);
        if (aurora) {
          rows.push(['primary / epoch', (r.primary || '—') + ' / ' + int(r.epoch), 'epoch']);
          rows.push(['RPO lag', ms(r.rpo_lag_ms), 'rpo_lag_ms']);
        }
      } else {
        rows.push(['error', r.error || 'no answer', 'error']);
      }
      rows.push(['address', r.addr + (r.pid ? ' · pid ' + r.pid : ''), 'addr']);
      const dl = card.querySelector('dl');
      dl.replaceChildren(...rows.flatMap(([k, v, f]) => [el('dt', { text: k }), el('dd', { 'data-field': f, text: v })]));
      const show = (action, yes) => {
        const b = card.querySelector('button[data-action="' + action + '"]');
        b.hidden = !yes;
      };
      const oldEpoch = aurora && r.epoch !== null && r.epoch < s.cluster.epoch;
      show('partition', true);
      show('heal', r.partitioned_from.length > 0 || r.state === 'down');
      show('switchover', aurora && r.role === 'secondary' && !oldEpoch);
      show('failover', aurora && r.role === 'secondary' && !oldEpoch);
      show('rejoin', aurora && oldEpoch);
      show('kill', s.controls.processes && r.state === 'up');
      show('restart', s.controls.processes);
    });
  }

  // ---- links table ---------------------------------------------------------------------

  function renderLinks(s) {
    const body = $('#links tbody');
    const keys = s.links.map((l) => l.from + '>' + l.to);
    for (const row of Array.from(body.children)) {
      if (!keys.includes(row.dataset.link)) row.remove();
    }
    s.links.forEach((l, i) => {
      const key = l.from + '>' + l.to;
      let row = body.querySelector('tr[data-link="' + CSS.escape(key) + '"]');
      if (!row) {
        const input = (name, value, step) => el('input', { type: 'number', min: 0, step, 'data-input': name, value: known(value) ? value : 0, title: name });
        row = el('tr', { 'data-link': key, 'data-from': l.from, 'data-to': l.to });
        for (let c = 0; c < 9; c++) row.append(el('td'));
        row.append(el('td', { class: 'live-only' },
          button('cut-pair', { 'data-from': l.from, 'data-to': l.to }, 'cut pair'),
          button('heal-pair', { 'data-from': l.from, 'data-to': l.to }, 'heal pair'),
          el('br'),
          input('latency_ms', l.latency_ms, 1), ' ms ±', input('jitter_ms', l.jitter_ms, 1), ' loss ', input('loss', l.loss, 0.01),
          el('label', {}, el('input', { type: 'checkbox', 'data-input': 'both_ways', checked: true }), 'both ways'),
          button('set-link', { 'data-from': l.from, 'data-to': l.to }, 'set')));
        if (i >= body.children.length) body.append(row);
        else body.insertBefore(row, body.children[i]);
      }
      const cells = row.children;
      cells[0].textContent = l.from + ' → ' + l.to;
      cells[1].textContent = l.state;
      cells[1].className = 'link-state-' + l.state;
      cells[2].textContent = known(l.latency_ms) ? num(l.latency_ms) + ' ± ' + num(l.jitter_ms) + ' ms, loss ' + pct(l.loss) : '—';
      const figures = [ms(l.lag_ms), ms(l.last_lag_ms), num(l.lag_p50_ms) + ' / ' + num(l.lag_p99_ms) + ' ms', int(l.backlog) + ' (' + int(l.pending) + ' as ' + l.to + ' knows)', perS(l.apply_rate), known(l.rpo_lag_ms) && s.cluster.mode === 'aurora-global' ? ms(l.rpo_lag_ms) + ' (' + int(l.rpo_lag_writes) + ' writes)' : '—'];
      figures.forEach((text, j) => {
        cells[3 + j].textContent = text;
        cells[3 + j].className = 'num';
      });
      cells[3].dataset.field = 'lag_ms';
      cells[6].dataset.field = 'backlog';
    });
  }

  // ---- conflicts, role changes, actions ------------------------------------------------

  function writeCell(w) {
    return el('td', {}, el('span', { text: w.region + ' ' }), el('code', { text: w.version, title: w.version }), el('br'), el('code', { class: 'mono', text: shortId(w.write_id), title: w.write_id }), w.tombstone ? ' (delete)' : null);
  }

  function renderConflicts(s) {
    const rows = s.conflicts.map((c) => el('tr', { 'data-key': c.key },
      el('td', { text: clock(c.detected_at_us / 1000) }),
      el('td', { text: c.kind }),
      el('td', {}, el('code', { text: c.key })),
      writeCell(c.winner),
      writeCell(c.loser),
      el('td', { text: c.detected_by.join(', ') })));
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 6, text: 'no conflicts seen yet' })));
    $('#conflicts tbody').replaceChildren(...rows);
    $('#conflict-totals').textContent = 'Newest first, each pair of writes once (with every region that detected it). The nodes counted ' + s.totals.conflicts + ' conflicts and ' + s.totals.lost_writes + ' lost writes in all (a pair met by three regions counts three times).';
  }

  function renderRoleChanges(s) {
    const rows = s.role_changes.map((c) => el('tr', { 'data-kind': c.kind },
      el('td', { text: clock(c.at_ms) }),
      el('td', { text: c.kind + ' ' + c.from + ' → ' + c.to }),
      el('td', { class: 'num', text: String(c.epoch) }),
      el('td', { class: 'num', text: c.rpo_writes === null ? '—' : c.rpo_writes + ' / ' + num(c.rpo_ms) }),
      el('td', { class: 'num', text: num(c.rto_ms) }),
      el('td', { class: 'num', text: int(c.split_brain_writes) }),
      el('td', { text: c.by })));
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 7, text: 'none yet' })));
    $('#role-changes tbody').replaceChildren(...rows);
  }

  function renderActions(s) {
    const items = s.actions.map((a) => el('li', { class: a.ok ? 'ok' : 'bad', value: a.id }, el('b', { text: a.action }), ': ' + a.message + ' (' + clock(a.at_ms) + ')'));
    if (!items.length) items.push(el('li', { text: 'none yet' }));
    $('#actions').replaceChildren(...items);
  }

  // ---- charts --------------------------------------------------------------------------

  const charts = {};

  function chartSpecs(s) {
    const regions = s.regions.map((r) => r.name);
    const linkKeys = [];
    for (const p of points) for (const k of Object.keys(p.links)) if (!linkKeys.includes(k)) linkKeys.push(k);
    const secondaries = [];
    for (const p of points) for (const k of Object.keys(p.rpo_lag_ms || {})) if (!secondaries.includes(k)) secondaries.push(k);
    const rp = (p, r) => p.regions[r] || {};
    const latencyHint = s.latency_source === 'load'
      ? 'every operation of the load running beside the dashboard, per update'
      : 'the dashboard\u2019s probe reads, one per region per update (p50 / p99 of the last 20)';
    const specs = [
      { id: 'latency', title: 'Client latency p50 / p99 (ms)', hint: latencyHint, series: regions.flatMap((r) => [
        { label: r + ' p50', color: colorOf(s, r), get: (p) => rp(p, r).p50_ms },
        { label: r + ' p99', color: colorOf(s, r), dash: [6, 4], get: (p) => rp(p, r).p99_ms }]) },
      { id: 'throughput', title: 'Throughput (ops/s): writes solid, reads dashed', hint: 'writes committed per region; reads from the nodes\u2019 metrics or the load', series: regions.flatMap((r) => [
        { label: r + ' writes', color: colorOf(s, r), get: (p) => rp(p, r).writes },
        { label: r + ' reads', color: colorOf(s, r), dash: [6, 4], get: (p) => rp(p, r).reads }]) },
      { id: 'lag', title: 'Replication lag per link (ms)', hint: 'mean lag of the writes applied in each update (a gap: none applied)', series: linkKeys.map((k, i) => ({ label: k.replace('>', ' → '), color: COLORS[i % COLORS.length], get: (p) => (p.links[k] || {}).lag_ms })) },
      { id: 'backlog', title: 'Backlog per link (writes)', hint: 'committed at the origin, not yet applied at the destination (the origin\u2019s log head minus what the destination applied): a partition\u2019s backlog builds here and drains on heal', series: linkKeys.map((k, i) => ({ label: k.replace('>', ' → '), color: COLORS[i % COLORS.length], get: (p) => (p.links[k] || {}).backlog })) },
      { id: 'conflicts', title: 'Conflicts and lost writes per second', hint: 'all regions (each region that merges a concurrent pair counts it)', series: [
        { label: 'conflicts/s', color: COLORS[1], get: (p) => p.conflicts },
        { label: 'lost writes/s', color: COLORS[3], dash: [6, 4], get: (p) => p.lost }] },
    ];
    if (secondaries.length) {
      specs.push({ id: 'rpo', title: 'Aurora Global RPO lag per secondary (ms)', hint: 'at the primary: age of the oldest write a secondary has not acknowledged', series: secondaries.map((k, i) => ({ label: k, color: COLORS[(i + 4) % COLORS.length], get: (p) => (p.rpo_lag_ms || {})[k] })) });
    }
    return specs;
  }

  function cursorPlugin() {
    return {
      hooks: {
        draw: [(u) => {
          if (cursorT === null) return;
          const x = u.valToPos(cursorT, 'x', true);
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = '#5f6368';
          ctx.setLineDash([4, 4]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }],
      },
    };
  }

  function drawCharts() {
    if (!current || typeof uPlot === 'undefined') return;
    const box = $('#charts');
    const specs = chartSpecs(current);
    const ids = specs.map((s) => s.id);
    for (const id of Object.keys(charts)) {
      if (!ids.includes(id)) {
        charts[id].plot.destroy();
        charts[id].div.remove();
        delete charts[id];
      }
    }
    const xs = points.map((p) => p.t);
    for (const spec of specs) {
      const data = [xs, ...spec.series.map((s) => points.map((p) => {
        const v = s.get(p);
        return known(v) ? v : null;
      }))];
      const signature = spec.series.map((s) => s.label).join('|');
      let c = charts[spec.id];
      if (c && c.signature !== signature) {
        c.plot.destroy();
        c.div.remove();
        delete charts[spec.id];
        c = null;
      }
      if (!c) {
        const div = el('div', { class: 'chart', 'data-chart': spec.id });
        const hint = el('p', { class: 'hint', text: spec.hint });
        box.append(div);
        const width = Math.max(320, div.clientWidth || 440);
        const opts = {
          title: spec.title,
          width,
          height: 220,
          scales: { x: { time: true } },
          series: [{}].concat(spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, dash: s.dash, spanGaps: false }))),
          axes: [{}, { size: 56 }],
          legend: { live: true },
          plugins: [cursorPlugin()],
        };
        const plot = new uPlot(opts, data, div);
        div.append(hint);
        c = charts[spec.id] = { plot, div, signature };
      } else {
        c.plot.setData(data);
      }
    }
  }

  window.addEventListener('resize', () => {
    for (const c of Object.values(charts)) c.plot.setSize({ width: Math.max(320, c.div.clientWidth), height: 220 });
  });

  // ---- one snapshot --------------------------------------------------------------------

  function render(s) {
    current = s;
    renderHeader(s);
    renderTopology(s);
    renderRegions(s);
    renderLinks(s);
    renderConflicts(s);
    renderRoleChanges(s);
    renderActions(s);
    drawCharts();
  }

  // ---- controls ------------------------------------------------------------------------

  function actionOf(b) {
    const a = b.dataset.action;
    const region = b.dataset.region;
    const row = b.closest('tr');
    switch (a) {
      case 'partition': case 'heal': case 'kill': case 'restart': case 'rejoin':
        return { action: a, region };
      case 'switchover':
        return { action: 'switchover', to: region };
      case 'failover':
        return { action: 'failover', to: region };
      case 'heal-all':
        return { action: 'heal' };
      case 'cut-pair':
        return { action: 'partition', region: b.dataset.from, peer: b.dataset.to };
      case 'heal-pair':
        return { action: 'heal', region: b.dataset.from, peer: b.dataset.to };
      case 'set-link': {
        const v = (name) => Number($('input[data-input="' + name + '"]', row).value);
        return { action: 'set-link', from: b.dataset.from, to: b.dataset.to, latency_ms: v('latency_ms'), jitter_ms: v('jitter_ms'), loss: v('loss'), one_way: !$('input[data-input="both_ways"]', row).checked };
      }
      default:
        return null;
    }
  }

  function showResult(ok, text) {
    const r = $('#action-result');
    r.hidden = false;
    r.className = ok ? 'ok' : 'bad';
    r.textContent = (ok ? 'done: ' : 'failed: ') + text;
  }

  async function send(action, b) {
    const headers = { 'content-type': 'application/json' };
    const token = $('#token').value;
    if (token) {
      headers['meridian-admin-token'] = token;
      try { sessionStorage.setItem('meridian-admin-token', token); } catch (e) { /* storage off */ }
    }
    b.disabled = true;
    showResult(true, action.action + ' … (waiting for the cluster)');
    try {
      const r = await fetch('/api/action', { method: 'POST', headers, body: JSON.stringify(action) });
      let body;
      try { body = await r.json(); } catch (e) { body = { ok: false, error: { code: String(r.status), message: r.statusText } }; }
      if (body.ok) showResult(true, body.message);
      else showResult(false, (body.action ? body.action + ': ' : '') + body.error.code + ': ' + body.error.message);
    } catch (e) {
      showResult(false, 'the dashboard did not answer (' + e + ')');
    } finally {
      b.disabled = false;
    }
  }

  document.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b || replay) return;
    const action = actionOf(b);
    if (!action) return;
    if (action.action === 'failover' && !window.confirm('Fail over to ' + action.to + '? The primary is cut off and treated as lost: acknowledged writes it had not replicated are lost.')) return;
    send(action, b);
  });

  // ---- live or replay ------------------------------------------------------------------

  $('#token-form').addEventListener('submit', (e) => e.preventDefault());

  function live() {
    try { $('#token').value = sessionStorage.getItem('meridian-admin-token') || ''; } catch (e) { /* storage off */ }
    setConn('connecting', false);
    fetch('/api/history').then((r) => r.json()).then((h) => {
      const first = points.length ? points[0].t : Infinity;
      points = h.points.filter((p) => p.t < first).concat(points);
      drawCharts();
    }).catch(() => {});
    const events = new EventSource('/api/events');
    events.addEventListener('snapshot', (ev) => {
      const s = JSON.parse(ev.data);
      if (!points.length || s.point.t > points[points.length - 1].t) points.push(s.point);
      if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
      setConn('live', true);
      render(s);
    });
    events.onopen = () => setConn('live', true);
    events.onerror = () => setConn('reconnecting (the dashboard is not answering)', false);
  }

  function startReplay(rec) {
    document.body.classList.add('replay');
    $('#title-kind').textContent = 'replay of a finished run';
    $('#uplot-license').removeAttribute('href');
    setConn('replay', true);
    const snaps = rec.snapshots;
    if (!snaps.length) {
      $('#cluster-line').textContent = 'the recording is empty';
      return;
    }
    points = snaps.map((s) => s.point);
    const slider = $('#replay-slider');
    $('#replay-bar').hidden = false;
    slider.max = String(snaps.length - 1);
    slider.value = String(snaps.length - 1);
    const show = (i) => {
      const s = Object.assign({}, snaps[i]);
      const until = s.at_ms * 1000;
      s.conflicts = rec.conflicts.filter((c) => c.detected_at_us <= until).slice(-50).reverse();
      cursorT = s.point.t;
      $('#replay-label').textContent = (i + 1) + ' of ' + snaps.length + ' · ' + clock(s.at_ms) + (rec.conflicts_dropped ? ' · ' + rec.conflicts_dropped + ' conflicts not kept' : '');
      render(s);
    };
    slider.addEventListener('input', () => show(Number(slider.value)));
    show(snaps.length - 1);
  }

  if (replay) startReplay(replay);
  else live();
})();
