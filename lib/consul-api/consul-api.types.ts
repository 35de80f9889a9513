/** The subset of Consul's HTTP API shapes this library sends and reads. */

export interface AgentCheckDefinition {
  CheckID?: string;
  Name?: string;
  Notes?: string;
  HTTP?: string;
  TCP?: string;
  GRPC?: string;
  GRPCUseTLS?: boolean;
  TTL?: string;
  Interval?: string;
  Timeout?: string;
  TLSSkipVerify?: boolean;
  Status?: CheckStatus;
  DeregisterCriticalServiceAfter?: string;
}

export interface AgentServiceRegistration {
  ID: string;
  Name: string;
  Address: string;
  Port: number;
  Tags: string[];
  Meta: Record<string, string>;
  EnableTagOverride: boolean;
  Weights?: { Passing: number; Warning: number };
  Checks: AgentCheckDefinition[];
  /** Connect native: the instance serves mTLS itself with certificates from the agent, no sidecar. */
  Connect?: { Native: true };
}

/** One service of `GET /v1/agent/services` (fields we read). */
export interface AgentService {
  ID: string;
  Service: string;
  Address: string;
  Port: number;
  Tags: string[] | null;
  Meta: Record<string, string> | null;
}

export type CheckStatus = 'passing' | 'warning' | 'critical';

/** One element of `GET /v1/health/service/:name` (fields we read; Consul may omit any of them). */
export interface HealthServiceEntry {
  Node?: {
    Node?: string;
    Address?: string;
    Datacenter?: string;
    TaggedAddresses?: Record<string, string> | null;
  };
  Service?: {
    ID?: string;
    Service?: string;
    Address?: string;
    Port?: number;
    Tags?: string[] | null;
    Meta?: Record<string, string> | null;
    Weights?: { Passing?: number; Warning?: number } | null;
    TaggedAddresses?: Record<string, { Address?: string; Port?: number }> | null;
  };
  Checks?: Array<{ CheckID?: string; Status?: string }> | null;
}

/** One KV entry with its value decoded (`null` for a key created without a value, e.g. a folder). */
export interface KvEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
  /** The session holding the key, if any. */
  Session?: string;
}

/** `POST /v1/session/create` as this library sends it. */
export interface SessionDefinition {
  Name: string;
  /** Go duration, "10s".."86400s". */
  TTL: string;
  /** Go duration, "0s".."60s". */
  LockDelay: string;
  Behavior: 'release' | 'delete';
  /** Health checks of the agent's node the session depends on (`serfHealth` must be listed explicitly). */
  Checks: string[];
}

/** One KV key with its lock state (`GET /v1/kv/:key`, value decoded). */
export interface KvPair {
  Key: string;
  Value: string | null;
  /** Raft index of the key's last write: strictly increases across writes, never reused. */
  ModifyIndex: number;
  /** How many times a session acquired the key (resets if the key is deleted). */
  LockIndex: number;
  /** The session holding the key, if any. */
  Session?: string;
}

/** One root of `GET /v1/agent/connect/ca/roots` (fields we read). */
export interface ConnectCaRoot {
  ID: string;
  RootCert: string;
  Active: boolean;
}

/** `GET /v1/agent/connect/ca/roots`. */
export interface ConnectCaRoots {
  ActiveRootID: string;
  TrustDomain: string;
  Roots: ConnectCaRoot[] | null;
}

/** `GET /v1/agent/connect/ca/leaf/:service` (fields we read). */
export interface ConnectLeafCert {
  SerialNumber: string;
  CertPEM: string;
  PrivateKeyPEM: string;
  Service: string;
  ServiceURI: string;
  ValidAfter: string;
  ValidBefore: string;
}

/** `POST /v1/agent/connect/authorize`. */
export interface ConnectAuthorization {
  Authorized: boolean;
  Reason: string;
}
