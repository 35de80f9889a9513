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
}

/** `GET /v1/agent/service/:id` (fields we read). */
export interface AgentService {
  ID: string;
  Service: string;
  Address: string;
  Port: number;
  Tags: string[] | null;
  Meta: Record<string, string> | null;
}

export type CheckStatus = 'passing' | 'warning' | 'critical';
