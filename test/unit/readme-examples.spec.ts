import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, '.readme-examples');

// README snippets leave out imports, and name a few things of the reader's own (a proto path, an
// app module, a schema). Everything else in a snippet must compile against lib/ as it is.
const PRELUDE = `
import { Controller, Get, Injectable, Module, VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  type AsyncMicroserviceOptions, type ClientGrpc, type ClientProxy, type MicroserviceOptions, Transport,
} from '@nestjs/microservices';
import { MemoryHealthIndicator, TerminusModule } from '@nestjs/terminus';
import { ConfigModule } from '@nestjs/config';
import { Cron } from '@nestjs/schedule';
import { readFileSync } from 'node:fs';
import type { Observable } from 'rxjs';
import {
  type ConfigChange, ConsulConfigModule, ConsulConfigService, consulConfigLoader, ConsulDiscoveryService,
  ConsulHealthIndicator, ConsulHealthService, ConsulHttpClient, ConsulModule, ConsulRegistrar, ConsulService,
  getConsulServiceToken, NoAvailableInstanceError, OnConsulConfigChange, type ServiceInstance, withGrpcHealth,
  ConsulLeaderService, ConsulLockService, ConsulSemaphoreService, LeaderOnly, OnLeadershipGranted, OnLeadershipRevoked,
  ConsulConnect, consulConnectHttpsOptions,
} from '../lib/index.js';
`;
const READER_NAMES: Record<string, string> = {
  protoPath: 'declare const protoPath: string;',
  AppModule: 'declare class AppModule {}',
  schema: 'declare const schema: { parse(config: unknown): Record<string, unknown> };',
  UserServiceClient:
    'interface UserServiceClient { getUser(request: { id: number }): Observable<{ id: number; name: string }> }',
};

function snippets(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
}

describe('README examples', () => {
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  it('has TypeScript examples, and every one compiles against the library', () => {
    const blocks = snippets();
    expect(blocks.length).toBeGreaterThanOrEqual(9);
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const files = blocks.map((block, i) => {
      const defines = (name: string) => new RegExp(`(class|interface|const|function)\\s+${name}\\b`).test(block);
      const reader = Object.entries(READER_NAMES)
        .filter(([name]) => new RegExp(`\\b${name}\\b`).test(block) && !defines(name))
        .map(([, declaration]) => declaration);
      const file = join(OUT, `example-${i + 1}.ts`);
      // A snippet that shows its own imports is compiled with exactly those (they must be complete).
      const ownImports = /^import /m.test(block);
      const code = ownImports ? block.replaceAll("'nestjs-consul-kit'", "'../lib/index.js'") : block;
      writeFileSync(file, `${ownImports ? '' : PRELUDE}\n${reader.join('\n')}\n${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2023,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && d.file.fileName.startsWith(OUT))
      .map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const text = d.file!.text.split('\n')[line];
        return `${d.file!.fileName.slice(OUT.length + 1)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n    ${text.trim()}`;
      });
    expect(problems).toEqual([]);
  });
});
