import { CommandRegistry } from '@lumino/commands';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { dashboardURL, requestAPI } from './request';
import { CommandIDs, IClusterInfo, IIndividualPlots } from './tokens';

/** Bytes as a short human size: 2147483648 -> "2 GiB". */
export function formatBytes(bytes: number): string {
  if (!bytes) {
    return '-';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** Who owns a cluster, as a person reads it. */
export function ownerLabel(cluster: IClusterInfo): string {
  if (cluster.notebook_path) {
    return cluster.notebook_path;
  }
  if (cluster.owner === 'daemon') {
    return `daemon (pid ${cluster.owner_pid})`;
  }
  if (cluster.owner === 'process') {
    return `process ${cluster.owner_pid}`;
  }
  if (cluster.owner === 'gateway') {
    return 'Dask Gateway';
  }
  return `kernel ${cluster.owner.slice(0, 8)}`;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text; // never innerHTML: names come from anyone
  }
  return node;
}

/**
 * The left sidebar: every registered cluster, refreshed by a Poll that backs
 * off on errors and stands by while the panel or the page is hidden.
 */
export class ClusterSidebar extends Widget {
  constructor(commands: CommandRegistry, interval: number) {
    super();
    this._commands = commands;
    this.id = 'clusterkit-sidebar';
    this.addClass('ck-Sidebar');
    this.title.caption = 'Clusters';

    const header = element('div', 'ck-Sidebar-header');
    header.appendChild(element('h2', 'ck-Sidebar-title', 'Clusters'));
    const newButton = element('button', 'jp-Button ck-Button ck-Sidebar-new', 'New cluster');
    newButton.dataset.action = 'new';
    newButton.addEventListener('click', () => void this._commands.execute(CommandIDs.newCluster));
    header.appendChild(newButton);
    this.node.appendChild(header);

    this._status = element('div', 'ck-Sidebar-status');
    this.node.appendChild(this._status);
    this._list = element('ul', 'ck-Sidebar-list');
    this.node.appendChild(this._list);

    this._poll = new Poll({
      auto: true,
      factory: () => this._refresh(),
      frequency: { interval: interval * 1000, backoff: true, max: 60 * 1000 },
      name: 'clusterkit:clusters',
      standby: () => (this.isVisible ? 'when-hidden' : true)
    });
  }

  /** Every cluster of the last refresh. */
  get clusters(): IClusterInfo[] {
    return this._clusters;
  }

  /** Emitted after each successful refresh. */
  get changed(): ISignal<this, IClusterInfo[]> {
    return this._changed;
  }

  /** Refresh now (and reset the backoff). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  set interval(seconds: number) {
    this._poll.frequency = { ...this._poll.frequency, interval: seconds * 1000 };
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    void this._poll.refresh();
  }

  private async _refresh(): Promise<void> {
    try {
      const clusters = await requestAPI<IClusterInfo[]>('api/clusters');
      this._status.textContent = clusters.length ? '' : 'No clusters. Start one here or with %cluster start.';
      this._status.classList.remove('ck-mod-error');
      this._clusters = clusters;
      this._render(clusters);
      this._changed.emit(clusters);
    } catch (error) {
      this._status.textContent = `Cannot list clusters: ${(error as Error).message}`;
      this._status.classList.add('ck-mod-error');
      throw error; // the Poll backs off
    }
  }

  private _render(clusters: IClusterInfo[]): void {
    const seen = new Set<string>();
    for (const cluster of clusters) {
      seen.add(cluster.id);
      let item = this._items.get(cluster.id);
      if (!item) {
        item = this._createItem(cluster);
        this._items.set(cluster.id, item);
      }
      this._list.appendChild(item); // keeps the server's order (oldest first)
      this._fill(item, cluster);
    }
    for (const [id, item] of this._items) {
      if (!seen.has(id)) {
        item.remove();
        this._items.delete(id);
      }
    }
  }

  private _createItem(cluster: IClusterInfo): HTMLLIElement {
    const item = element('li', 'ck-Cluster');
    item.dataset.clusterId = cluster.id;
    const head = element('div', 'ck-Cluster-head');
    head.appendChild(element('span', 'ck-Cluster-name'));
    head.appendChild(element('span', 'ck-Cluster-kind'));
    head.appendChild(element('span', 'ck-Cluster-status'));
    item.appendChild(head);
    const facts = element('dl', 'ck-Cluster-facts');
    for (const [key, label] of [
      ['owner', 'Owner'],
      ['workers', 'Workers'],
      ['cores', 'Cores'],
      ['memory', 'Memory']
    ]) {
      facts.appendChild(element('dt', 'ck-Cluster-label', label));
      const value = element('dd', `ck-Cluster-value ck-Cluster-${key}`);
      value.dataset.field = key;
      facts.appendChild(value);
    }
    item.appendChild(facts);

    const actions = element('div', 'ck-Cluster-actions');
    const buttons: [string, string, () => void][] = [
      ['dashboard', 'Dashboard', () => void this._togglePanes(item, cluster.id)],
      ['scale', 'Scale', () => void this._commands.execute(CommandIDs.scale, { id: cluster.id })],
      ['use', 'Use in notebook', () => void this._commands.execute(CommandIDs.useInNotebook, { id: cluster.id })],
      ['stop', 'Stop', () => void this._commands.execute(CommandIDs.stop, { id: cluster.id })]
    ];
    for (const [action, label, onClick] of buttons) {
      const button = element('button', `jp-Button ck-Button ck-Cluster-${action}`, label);
      button.dataset.action = action;
      button.addEventListener('click', onClick);
      actions.appendChild(button);
    }
    item.appendChild(actions);
    item.appendChild(element('ul', 'ck-Cluster-panes'));
    return item;
  }

  private _fill(item: HTMLLIElement, cluster: IClusterInfo): void {
    const set = (selector: string, text: string) => {
      const node = item.querySelector(selector);
      if (node && node.textContent !== text) {
        node.textContent = text;
      }
    };
    item.dataset.clusterName = cluster.name;
    set('.ck-Cluster-name', cluster.name);
    set('.ck-Cluster-kind', cluster.kind);
    set('.ck-Cluster-status', cluster.status);
    set('.ck-Cluster-owner', ownerLabel(cluster));
    set('.ck-Cluster-workers', String(cluster.workers));
    set('.ck-Cluster-cores', String(cluster.threads));
    set('.ck-Cluster-memory', formatBytes(cluster.memory_bytes));
    item.dataset.status = cluster.status;
    const dashboard = item.querySelector<HTMLButtonElement>('.ck-Cluster-dashboard');
    if (dashboard) {
      dashboard.disabled = !cluster.dashboard_url;
    }
    const owner = item.querySelector<HTMLElement>('.ck-Cluster-owner');
    if (owner) {
      owner.title = cluster.owner;
    }
  }

  /** Show (or hide) the cluster's dashboard plots, discovered from individual-plots.json. */
  private async _togglePanes(item: HTMLLIElement, id: string): Promise<void> {
    const list = item.querySelector<HTMLUListElement>('.ck-Cluster-panes');
    if (!list) {
      return;
    }
    if (list.childElementCount) {
      list.replaceChildren();
      return;
    }
    const all = element('li', 'ck-Pane ck-Pane-default');
    const allLink = element('button', 'ck-Pane-link', 'Open default layout');
    allLink.dataset.pane = '*default*';
    allLink.addEventListener('click', () => void this._commands.execute(CommandIDs.openDashboard, { id }));
    all.appendChild(allLink);
    list.appendChild(all);
    try {
      const plots = await requestAPI<IIndividualPlots>(`dashboard/${encodeURIComponent(id)}/individual-plots.json`);
      const plotEntries = Object.entries(plots).sort(([a], [b]) => a.localeCompare(b));
      const entries: [string, string][] = [['Status', '/status'], ...plotEntries];
      for (const [label, path] of entries) {
        const pane = element('li', 'ck-Pane');
        const link = element('button', 'ck-Pane-link', label.replace(/^Individual /, ''));
        link.dataset.pane = path.replace(/^\//, '');
        link.title = dashboardURL(id, path);
        link.addEventListener('click', () => void this._commands.execute(CommandIDs.openPane, { id, path, label }));
        pane.appendChild(link);
        list.appendChild(pane);
      }
    } catch (error) {
      list.appendChild(element('li', 'ck-Pane ck-mod-error', `No dashboard: ${(error as Error).message}`));
    }
  }

  private _commands: CommandRegistry;
  private _poll: Poll;
  private _list: HTMLUListElement;
  private _status: HTMLDivElement;
  private _items = new Map<string, HTMLLIElement>();
  private _clusters: IClusterInfo[] = [];
  private _changed = new Signal<this, IClusterInfo[]>(this);
}
