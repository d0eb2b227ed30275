package io.reelay.loadtest.bench;

import io.reelay.loadtest.report.Report;

/** One measured scenario of {@code reelay loadtest}: it starts what it needs, drives the load, answers the report. */
public interface Scenario {

  /** The name on the command line and of the report's files. */
  String name();

  /** What it measures, one line, for {@code reelay loadtest --help}. */
  String measures();

  Report run(Bench bench) throws Exception;
}
