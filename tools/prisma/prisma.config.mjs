// Prisma config for one ordermesh service, chosen by ORDERMESH_PRISMA_SERVICE (set by prisma.mjs).
// Paths are relative to this file; the database URL comes from DATABASE_URL.
import { defineConfig } from 'prisma/config';

const service = process.env.ORDERMESH_PRISMA_SERVICE;
if (!service)
  throw new Error('ORDERMESH_PRISMA_SERVICE is not set; run the Prisma CLI through tools/prisma/prisma.mjs');

export default defineConfig({
  schema: `../../prisma/${service}/schema.prisma`,
  migrations: { path: `../../prisma/${service}/migrations` },
  datasource: { url: process.env.DATABASE_URL },
});
