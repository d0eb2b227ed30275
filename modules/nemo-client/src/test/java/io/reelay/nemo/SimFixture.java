package io.reelay.nemo;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/** A simulator on a free port, sped up, and a client pointed at it; overrides tune either. */
record SimFixture(ActorTestKit kit, NemoSim sim, NemoClient client) implements AutoCloseable {

  static SimFixture start(String name, Map<String, Object> overrides) throws Exception {
    Map<String, Object> m = new HashMap<>(Map.of("nemo-sim.port", 0, "nemo-sim.time-scale", 0.005));
    m.putAll(overrides);
    Config config = ConfigFactory.parseMap(m).withFallback(ConfigFactory.load()).resolve();
    ActorTestKit kit = ActorTestKit.create(name, config);
    NemoSim sim = NemoSim.start(kit.system(), SimSettings.from(config.getConfig("nemo-sim")))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    NemoClient client = new NemoClient(kit.system(), NemoSettings.from(config.getConfig("reelay.nemo")).withBaseUrl(sim.baseUrl()));
    return new SimFixture(kit, sim, client);
  }

  @Override
  public void close() throws Exception {
    sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    kit.shutdownTestKit();
  }
}
