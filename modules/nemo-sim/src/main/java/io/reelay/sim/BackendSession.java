package io.reelay.sim;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/** A task + agent session (E2) and its state (E7). The draft is swapped atomically as a whole. */
final class BackendSession {

  final String sessionId;
  final String taskId;
  final String taskName;
  final String language;
  final String ownerUserId;
  private final AtomicReference<Draft> draft = new AtomicReference<>(Draft.EMPTY);
  private final Set<String> messages = ConcurrentHashMap.newKeySet();
  /** The texts of the messages the backend charged for (froze credits and ran the turn). */
  private final Set<String> chargedMessages = ConcurrentHashMap.newKeySet();
  /** Uploaded assets (E5), as E7 lists them in {@code video_infos}. */
  private final List<Map<String, Object>> videoInfos = new CopyOnWriteArrayList<>();
  private volatile long lastUsedMillis;

  BackendSession(String sessionId, String taskId, String taskName, String language, String ownerUserId) {
    this.sessionId = sessionId;
    this.taskId = taskId;
    this.taskName = taskName;
    this.language = language;
    this.ownerUserId = ownerUserId;
  }

  /** Marks the session as used now (idle expiry counts from the last use). */
  void touch(long nowMillis) {
    lastUsedMillis = nowMillis;
  }

  long lastUsedMillis() {
    return lastUsedMillis;
  }

  void addVideoInfo(Map<String, Object> info) {
    videoInfos.add(info);
  }

  List<Map<String, Object>> videoInfos() {
    return List.copyOf(videoInfos);
  }

  Draft draft() {
    return draft.get();
  }

  Draft updateDraft(UnaryOperator<Draft> change) {
    return draft.updateAndGet(change);
  }

  /** Records a user message; false when the same text was already sent in this session. */
  boolean firstTimeSaid(String text) {
    return messages.add(text.strip());
  }

  /** Records a charged message; false when a message with the same text was already charged in this session. */
  boolean firstTimeCharged(String text) {
    return chargedMessages.add(text.strip());
  }
}
