import { connectDatabase as connectWithPool, type DatabaseConnections, type DatabaseOptions } from '@ordermesh/kit';
import { PrismaClient } from './generated/prisma/client.js';

export type Database = InstanceType<typeof PrismaClient>;
export type Connections = DatabaseConnections<Database>;

export function connectDatabase(url: string, options: DatabaseOptions = {}): Connections {
  return connectWithPool(url, options, (adapter) => new PrismaClient({ adapter }));
}
