package io.reelay.protocol;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which Kafka consumer group protocol a set of consumer properties asks for. With KIP-848 ({@code
 * group.protocol=consumer}) the broker owns session timeouts, heartbeats and assignment, and the
 * client refuses the classic settings for them; Reelay's defaults carry those settings for classic
 * groups, so they are dropped whenever the consumer protocol is chosen.
 */
public final class GroupProtocol {

  /** Consumer settings only classic groups accept. */
  public static final List<String> CLASSIC_ONLY =
      List.of("heartbeat.interval.ms", "session.timeout.ms", "partition.assignment.strategy");

  private GroupProtocol() {}

  /** True when {@code props} choose the KIP-848 consumer protocol. */
  public static boolean isConsumer(Map<String, String> props) {
    return "consumer".equalsIgnoreCase(props.getOrDefault("group.protocol", "").strip());
  }

  /** {@code props} without the classic-only settings when they choose the consumer protocol; else unchanged. */
  public static Map<String, String> compatible(Map<String, String> props) {
    if (!isConsumer(props)) {
      return props;
    }
    Map<String, String> out = new HashMap<>(props);
    CLASSIC_ONLY.forEach(out::remove);
    return Map.copyOf(out);
  }
}
