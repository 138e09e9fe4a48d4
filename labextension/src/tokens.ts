/**
 * Names, command ids and the JSON shapes the server sends. No side effects.
 *
 * IClusterRecord mirrors clusterkit.registry.ClusterRecord (Python): change both together.
 */

/** The plugin id, also the settings id (schema/plugin.json). */
export const PLUGIN_ID = 'clusterkit:plugin';

/** What every clusterkit process may know about one cluster (clusterkit/registry.py). */
export interface IClusterRecord {
  id: string;
  name: string;
  kind: 'local' | 'ssh' | 'address' | 'factory' | 'gateway';
  scheduler_address: string;
  dashboard_port: number | null;
  /** A kernel id, "daemon", "process" or "gateway" (a Dask Gateway cluster no clusterkit process started). */
  owner: string;
  owner_pid: number;
  /** Seconds since the epoch. */
  created: number;
  workers: number;
  threads: number;
  memory_bytes: number;
  status: 'starting' | 'running' | 'stopping' | 'lost';
  /** A dashboard served elsewhere (a Dask Gateway's proxy), else null. */
  dashboard_url: string | null;
}

/** A record as the REST API sends it: the record plus what the server adds. */
export interface IClusterInfo extends IClusterRecord {
  /** Path of the notebook whose kernel owns the cluster, if any. */
  notebook_path: string | null;
  /** The proxied dashboard, ``<base_url>clusterkit/dashboard/<id>/``; a gateway cluster's own link; or null. */
  dashboard_url: string | null;
}

/** Body of POST /clusterkit/api/clusters. */
export interface INewClusterOptions {
  name?: string;
  workers?: number;
  threads?: number;
  memory?: string;
  ssh_hosts?: string[];
  /** Start it on the configured Dask Gateway instead (then only ``workers`` and ``gateway_options`` apply). */
  gateway?: boolean;
  gateway_options?: Record<string, unknown>;
}

/** GET /clusterkit/api/gateway: the Dask Gateway the server talks to, if any. */
export interface IGatewayInfo {
  address: string | null;
}

/** Body of PATCH /clusterkit/api/clusters/<id>. */
export type IScaleRequest = { workers: number } | { adapt: { minimum: number; maximum: number } };

/** Dask's individual-plots.json: plot title -> path, e.g. "Task Stream": "/individual-task-stream". */
export type IIndividualPlots = Record<string, string>;

/** The extension's settings (schema/plugin.json). */
export interface IClusterkitSettings {
  pollInterval: number;
  defaultPanes: string[];
  paneMode: 'tab-after' | 'split-right' | 'split-bottom';
}

export namespace CommandIDs {
  export const newCluster = 'clusterkit:new-cluster';
  export const scale = 'clusterkit:scale';
  export const stop = 'clusterkit:stop';
  export const openDashboard = 'clusterkit:open-dashboard';
  export const openPane = 'clusterkit:open-pane';
  export const useInNotebook = 'clusterkit:use-in-notebook';
  export const refresh = 'clusterkit:refresh';
  export const showSidebar = 'clusterkit:show-sidebar';
}
