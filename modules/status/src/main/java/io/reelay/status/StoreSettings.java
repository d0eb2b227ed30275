package io.reelay.status;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where and how the status view keeps its stores ({@code reelay.status.store}) and how instances
 * reach each other ({@code reelay.status.peers}). {@link #toString()} never shows the peer key.
 *
 * @param applicationId the Kafka Streams application of the deployment; blank: {@code <prefix>.status}
 * @param advertisedHost how the other instances reach this one; blank: the bound host (loopback for 0.0.0.0)
 * @param peerKey what instances prove to each other on their internal API; blank: random per process
 */
public record StoreSettings(
    Path stateDir,
    String applicationId,
    int standbyReplicas,
    int replicationFactor,
    Duration retention,
    Duration purgeInterval,
    int maxHistoryBytes,
    long rocksDbMemory,
    Map<String, String> streamsProperties,
    String advertisedHost,
    String peerKey,
    Duration peerTimeout,
    int peerConnections) {

  public StoreSettings {
    streamsProperties = Collections.unmodifiableMap(new LinkedHashMap<>(streamsProperties));
    if (standbyReplicas < 0 || replicationFactor < 1 || maxHistoryBytes < 1024 || peerConnections < 1) {
      throw new IllegalArgumentException(
          "reelay.status.store: standby-replicas >= 0, replication-factor >= 1, max-history-bytes >= 1KiB; peers.connections >= 1");
    }
    if (retention.isNegative() || retention.isZero() || purgeInterval.isNegative() || purgeInterval.isZero()) {
      throw new IllegalArgumentException("reelay.status.store.retention and purge-interval must be positive");
    }
  }

  /** @param status the {@code reelay.status} block */
  static StoreSettings from(Config status) {
    Config s = status.getConfig("store");
    Config p = status.getConfig("peers");
    return new StoreSettings(
        Path.of(s.getString("state-dir")),
        s.getString("application-id").trim(),
        s.getInt("standby-replicas"),
        s.getInt("replication-factor"),
        s.getDuration("retention"),
        s.getDuration("purge-interval"),
        (int) Math.min(Integer.MAX_VALUE, s.getBytes("max-history-bytes")),
        s.getBytes("rocksdb-memory"),
        StatusSettings.properties(s.getConfig("streams-properties")),
        p.getString("advertised-host").trim(),
        p.getString("key"),
        p.getDuration("timeout"),
        p.getInt("connections"));
  }

  /** The same, with the stores under {@code dir} (tests, the local stack). */
  public StoreSettings withStateDir(Path dir) {
    return new StoreSettings(dir, applicationId, standbyReplicas, replicationFactor, retention, purgeInterval, maxHistoryBytes,
        rocksDbMemory, streamsProperties, advertisedHost, peerKey, peerTimeout, peerConnections);
  }

  /** The same, with another peer key (tests with several instances). */
  public StoreSettings withPeerKey(String key) {
    return new StoreSettings(stateDir, applicationId, standbyReplicas, replicationFactor, retention, purgeInterval, maxHistoryBytes,
        rocksDbMemory, streamsProperties, advertisedHost, key, peerTimeout, peerConnections);
  }

  @Override
  public String toString() {
    return "StoreSettings[stateDir=" + stateDir + ", applicationId=" + applicationId + ", standbyReplicas=" + standbyReplicas
        + ", replicationFactor=" + replicationFactor + ", retention=" + retention + ", purgeInterval=" + purgeInterval
        + ", maxHistoryBytes=" + maxHistoryBytes + ", rocksDbMemory=" + rocksDbMemory + ", streamsProperties=" + streamsProperties
        + ", advertisedHost=" + advertisedHost + ", peerKey=" + (peerKey.isBlank() ? "(random)" : "(set)")
        + ", peerTimeout=" + peerTimeout + ", peerConnections=" + peerConnections + "]";
  }
}
