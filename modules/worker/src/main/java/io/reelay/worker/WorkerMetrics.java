package io.reelay.worker;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The process's meters: one Prometheus registry per actor system, with the JVM's (memory, GC,
 * threads, classes, CPU, uptime). Every worker of the system (several under {@code reelay up
 * --workers N}) and the backend client register in it; each worker's {@code /metrics} serves it
 * all, worker-scoped meters tagged with the worker's client id.
 */
public final class WorkerMetrics implements Extension {

  private static final ExtensionId<WorkerMetrics> ID = new ExtensionId<>() {
    @Override
    public WorkerMetrics createExtension(ActorSystem<?> system) {
      return new WorkerMetrics();
    }
  };

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gc = new JvmGcMetrics();

  private WorkerMetrics() {
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  /** The registry of {@code system}'s process. */
  public static PrometheusMeterRegistry registry(ActorSystem<?> system) {
    return ID.apply(system).registry;
  }
}
