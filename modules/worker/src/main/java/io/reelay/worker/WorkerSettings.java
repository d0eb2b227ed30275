package io.reelay.worker;

import com.sun.management.UnixOperatingSystemMXBean;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.reelay.protocol.GroupProtocol;
import io.reelay.protocol.Topics;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;

/** Settings of a worker, read once from {@code reelay.worker}, {@code reelay.kafka}, {@code reelay.topics}. */
public record WorkerSettings(
    String bootstrapServers,
    Topics topics,
    TopicSetup.Layout topicLayout,
    String groupId,
    int maxActiveRequests,
    Duration requestDeadline,
    Duration stillWorkingInterval,
    Duration recoveryFirstCheck,
    Duration recoveryInterval,
    int recoveryMaxUnchanged,
    Duration renderPollGrid,
    Duration renderPollMargin,
    Duration renderPollMinGap,
    Duration renderTimeout,
    boolean followGuiExport,
    Path mediaDir,
    long maxUploadBytes,
    String clientIdPrefix,
    String stateKey,
    boolean devMode,
    int commitMaxBatch,
    Duration commitMaxInterval,
    long maxRecordBytes,
    Duration handoverTimeout,
    Duration stopGrace,
    Duration stuckRestartAfter,
    Duration sessionIdleTimeout,
    Duration tokenRefreshBefore,
    String httpHost,
    int httpPort,
    Map<String, String> consumerProperties,
    Map<String, String> producerProperties) {

  /** @param root the whole config (reads {@code reelay.*}) */
  public static WorkerSettings from(Config root) {
    Config w = root.getConfig("reelay.worker");
    Config t = root.getConfig("reelay.topics");
    return new WorkerSettings(
        root.getString("reelay.kafka.bootstrap-servers"),
        Topics.withPrefix(t.getString("prefix")),
        TopicSetup.Layout.from(t),
        w.getString("group-id"),
        maxActiveRequests(root, Runtime.getRuntime().maxMemory(), openFileLimit()),
        w.getDuration("request-deadline"),
        w.getDuration("still-working-interval"),
        w.getDuration("recovery.first-check"),
        w.getDuration("recovery.interval"),
        w.getInt("recovery.max-unchanged"),
        w.getDuration("render-poll.grid"),
        w.getDuration("render-poll.margin"),
        w.getDuration("render-poll.min-gap"),
        w.getDuration("render-timeout"),
        w.getBoolean("follow-gui-export"),
        Path.of(w.getString("uploads.media-dir")).toAbsolutePath().normalize(),
        w.getBytes("uploads.max-bytes"),
        w.getString("client-id-prefix"),
        w.getString("state-key"),
        w.getBoolean("dev-mode"),
        w.getInt("commit.max-batch"),
        w.getDuration("commit.max-interval"),
        w.getBytes("max-record-bytes"),
        w.getDuration("handover-timeout"),
        w.getDuration("stop-grace"),
        w.getDuration("stuck-restart-after"),
        w.getDuration("session-idle-timeout"),
        w.getDuration("token-refresh-before"),
        w.getString("http-host"),
        w.getInt("http-port"),
        // KIP-848: the broker owns timeouts and assignment, and the client refuses the classic settings
        incrementalOnly(GroupProtocol.compatible(properties(w.getConfig("kafka-consumer")))),
        properties(w.getConfig("kafka-producer")));
  }

  /**
   * {@code max-active-requests}: a number, or {@code auto} for what the heap and the open-file
   * limit allow ({@link Capacity#auto}).
   */
  static int maxActiveRequests(Config root, long maxHeapBytes, long openFiles) {
    String key = "reelay.worker.max-active-requests";
    if (root.getValue(key).valueType() == ConfigValueType.STRING && root.getString(key).strip().equals("auto")) {
      return Capacity.auto(maxHeapBytes, openFiles, intOr(root, "reelay.nemo.max-connections", Integer.MAX_VALUE),
          intOr(root, "reelay.nemo.calls.max-connections", 0));
    }
    try {
      return root.getInt(key);
    } catch (ConfigException.WrongType e) {
      throw new IllegalArgumentException(key + " (REELAY_MAX_ACTIVE) must be a number or auto, was \""
          + root.getString(key) + "\"");
    }
  }

  private static int intOr(Config root, String path, int absent) {
    return root.hasPath(path) ? root.getInt(path) : absent;
  }

  /** The soft open-file limit of this process; {@link Long#MAX_VALUE} when the platform does not tell. */
  static long openFileLimit() {
    return ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean unix
        ? unix.getMaxFileDescriptorCount() : Long.MAX_VALUE;
  }

  /**
   * Refuses eager partition assignors: an eager rebalance revokes every partition and gives most
   * back to the same worker at once, and Pekko's partitioned source then keeps records fetched
   * before the rebalance alongside those Kafka gives again from the committed offset. Run out of
   * order, a session's later request would finish before an earlier one, which then looks done.
   */
  static Map<String, String> incrementalOnly(Map<String, String> consumer) {
    String strategy = consumer.get(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG);
    if (GroupProtocol.isConsumer(consumer) || strategy == null) {
      return consumer;
    }
    for (String name : strategy.split(",")) {
      String cls = name.strip();
      boolean cooperative;
      try {
        Object assignor = Class.forName(cls).getDeclaredConstructor().newInstance();
        cooperative = assignor instanceof ConsumerPartitionAssignor a
            && a.supportedProtocols().contains(ConsumerPartitionAssignor.RebalanceProtocol.COOPERATIVE);
      } catch (ReflectiveOperationException | LinkageError e) {
        throw new IllegalArgumentException("reelay.worker.kafka-consumer.partition.assignment.strategy: cannot load " + cls
            + " (" + e + "); use org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
      }
      if (!cooperative) {
        throw new IllegalArgumentException("reelay.worker.kafka-consumer.partition.assignment.strategy: " + cls
            + " rebalances eagerly, which can run a session's requests out of order during a hand-over. Use"
            + " org.apache.kafka.clients.consumer.CooperativeStickyAssignor (the default), or \"group.protocol\" = \"consumer\"");
      }
    }
    return consumer;
  }

  private static Map<String, String> properties(Config c) {
    Map<String, String> m = new HashMap<>();
    for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
      m.put(e.getKey().replace("\"", ""), String.valueOf(e.getValue().unwrapped()));
    }
    return Map.copyOf(m);
  }

  /** The cipher for snapshot secrets; refuses to go on without a key outside dev mode. */
  public StateCipher stateCipher() {
    if (stateKey.isBlank()) {
      if (!devMode) {
        throw new IllegalStateException("REELAY_STATE_KEY is not set: session snapshots carry backend tokens and are "
            + "stored encrypted. Generate a key with `openssl rand -base64 32`, give every worker the same one, and keep it secret.");
      }
      return StateCipher.fromBase64(StateCipher.newKey()); // dev mode: good for this process only
    }
    return StateCipher.fromBase64(stateKey);
  }

  @Override
  public String toString() {
    return "WorkerSettings[group=" + groupId + ", topics=" + topics + ", bootstrap=" + bootstrapServers + ", state-key redacted]";
  }

  public WorkerSettings withKafka(String bootstrap, Topics topics) {
    return new WorkerSettings(
        bootstrap, topics, topicLayout, groupId, maxActiveRequests, requestDeadline,
        stillWorkingInterval, recoveryFirstCheck, recoveryInterval, recoveryMaxUnchanged, renderPollGrid, renderPollMargin, renderPollMinGap, renderTimeout, followGuiExport,
        mediaDir, maxUploadBytes, clientIdPrefix, stateKey, devMode, commitMaxBatch, commitMaxInterval, maxRecordBytes, handoverTimeout, stopGrace, stuckRestartAfter, sessionIdleTimeout, tokenRefreshBefore, httpHost, httpPort, consumerProperties, producerProperties);
  }

  /** The same settings with the endpoints on another port (0: a free one). */
  public WorkerSettings withHttpPort(int port) {
    return new WorkerSettings(
        bootstrapServers, topics, topicLayout, groupId, maxActiveRequests, requestDeadline,
        stillWorkingInterval, recoveryFirstCheck, recoveryInterval, recoveryMaxUnchanged, renderPollGrid, renderPollMargin, renderPollMinGap, renderTimeout, followGuiExport,
        mediaDir, maxUploadBytes, clientIdPrefix, stateKey, devMode, commitMaxBatch, commitMaxInterval, maxRecordBytes, handoverTimeout, stopGrace, stuckRestartAfter, sessionIdleTimeout, tokenRefreshBefore, httpHost, port, consumerProperties, producerProperties);
  }

  public WorkerSettings withGroupId(String group) {
    return new WorkerSettings(
        bootstrapServers, topics, topicLayout, group, maxActiveRequests, requestDeadline,
        stillWorkingInterval, recoveryFirstCheck, recoveryInterval, recoveryMaxUnchanged, renderPollGrid, renderPollMargin, renderPollMinGap, renderTimeout, followGuiExport,
        mediaDir, maxUploadBytes, clientIdPrefix, stateKey, devMode, commitMaxBatch, commitMaxInterval, maxRecordBytes, handoverTimeout, stopGrace, stuckRestartAfter, sessionIdleTimeout, tokenRefreshBefore, httpHost, httpPort, consumerProperties, producerProperties);
  }
}
