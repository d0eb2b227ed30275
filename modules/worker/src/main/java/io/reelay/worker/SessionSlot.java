package io.reelay.worker;

import io.reelay.protocol.Request;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;

/** One session: its actor, what waits, what runs, what it remembers. */
final class SessionSlot {

  /** A request in hand, with everyone waiting for it (a record delivered twice waits on the first). */
  static final class Pending {
    final Request request;
    final SessionRegistry.Origin origin;
    final List<ActorRef<SessionRegistry.Outcome>> waiters = new ArrayList<>();
    long firstSeq;
    boolean resume;

    Pending(SessionRegistry.Submit s) {
      this.request = s.request();
      this.origin = s.origin();
      waiters.add(s.replyTo());
    }

    String id() {
      return request.requestId();
    }

    void answer(SessionRegistry.Outcome o) {
      waiters.forEach(w -> w.tell(o));
    }
  }

  final int partition;
  final SessionMemory memory;
  ActorRef<SessionActor.Command> actor;
  boolean started;
  final Deque<Pending> queue = new ArrayDeque<>();
  Pending running;
  final Map<String, Pending> cancels = new HashMap<>(); // handed to the actor
  String inFlightAtLastOwner;

  SessionSlot(int partition, SessionMemory memory) {
    this.partition = partition;
    this.memory = memory;
  }

  boolean idle() {
    return running == null && queue.isEmpty() && cancels.isEmpty();
  }

  Pending find(String requestId) {
    if (running != null && running.id().equals(requestId)) {
      return running;
    }
    if (cancels.containsKey(requestId)) {
      return cancels.get(requestId);
    }
    return queue.stream().filter(q -> q.id().equals(requestId)).findFirst().orElse(null);
  }

  /** Finished here or by a previous owner: by its id, or (a session runs its requests in offset order) by its offset. */
  boolean done(String requestId, SessionRegistry.Origin origin) {
    return memory.remembers(requestId)
        || (origin.offset() >= 0 && origin.offset() <= memory.doneThrough() && !requestId.equals(inFlightAtLastOwner));
  }
}
