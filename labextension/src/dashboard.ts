import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';

import { dashboardURL } from './request';

/** One Dask dashboard plot of one cluster, as a main-area tab. */
export class DashboardPane extends MainAreaWidget<IFrame> {
  constructor(options: DashboardPane.IOptions) {
    // No 'allow-same-origin': Dask's page runs in an opaque origin and cannot
    // touch JupyterLab. The proxy's CSP sandbox says the same; its scripts and
    // Bokeh socket are authorized by the '~<capability>' prefix the proxy
    // redirects the frame to (README, "Dashboards and the proxy").
    const content = new IFrame({
      sandbox: ['allow-scripts', 'allow-popups', 'allow-downloads'],
      referrerPolicy: 'no-referrer'
    });
    content.url = dashboardURL(options.clusterId, options.path);
    super({ content });
    this.clusterId = options.clusterId;
    this.path = options.path;
    this.label = options.label;
    this.id = DashboardPane.widgetId(options.clusterId, options.path);
    this.addClass('ck-DashboardPane');
    this.node.dataset.clusterId = options.clusterId;
    this.node.dataset.pane = options.path.replace(/^\//, '');
    this.title.label = `${options.clusterName ?? options.clusterId}: ${options.label.replace(/^Individual /, '')}`;
    this.title.caption = `Dask dashboard ${options.path} of cluster ${options.clusterName ?? options.clusterId}`;
    this.title.closable = true;
  }

  readonly clusterId: string;
  readonly path: string;
  readonly label: string;
}

export namespace DashboardPane {
  export interface IOptions {
    clusterId: string;
    clusterName?: string;
    path: string;
    label: string;
  }

  export function widgetId(clusterId: string, path: string): string {
    return `clusterkit-dashboard-${clusterId}-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  }
}
