import { fileURLToPath } from 'node:url';

/** sample/proto/user.proto, seen from the compiled sample (sample/dist/proto-path.js). */
export const USER_PROTO = fileURLToPath(new URL('../proto/user.proto', import.meta.url));

/** sample/proto/greeting.proto: user_api's gRPC side (a hybrid app). */
export const GREETING_PROTO = fileURLToPath(new URL('../proto/greeting.proto', import.meta.url));
