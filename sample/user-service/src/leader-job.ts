import { Injectable, Logger } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { ConsulRegistrar, LeaderOnly } from 'nestjs-consul-kit';

/** A job for one instance of the fleet at a time: every second, on the leader of "user-service-job" only. */
@Injectable()
export class LeaderJob {
  private readonly logger = new Logger('LeaderJob');

  constructor(private readonly registrar: ConsulRegistrar) {}

  @Cron('* * * * * *')
  @LeaderOnly('user-service-job')
  run(): void {
    this.logger.log(`leader job ran on ${this.registrar.instanceId}`);
  }
}
