"""Round-robin targets: each new incident pages the next person of an ordered list.

The turn is taken once, when an incident's escalation starts: the target row is locked
(`select_for_update`, after the incident, as incidents.core.locks orders them), its counter read
and moved on, and the chosen person written into the escalation's snapshot. So two incidents
opened at the same instant queue on the row and get two different people, and every later step
and round of one incident pages the same person. Firing a step (incidents.paging.steps) pages the
person the snapshot names, or the next active member when that person has been deactivated since.
"""

from collections import defaultdict

from incidents.models import EscalationTarget, RoundRobinMember, TargetType


def round_robin_pick(snapshot: dict) -> list[str]:
    """Choose, in place, the person of every round-robin target in `snapshot` (an escalation
    about to start, whose incident this transaction holds). Returns the usernames chosen.

    Inactive members are passed over (and named in the target's `skipped`); the counter moves
    to the member after the one chosen.
    """
    targets = [
        target
        for step in snapshot.get("steps", [])
        for target in step["targets"]
        if target["type"] == TargetType.ROUND_ROBIN
    ]
    if not targets:
        return []
    ids = sorted({target["id"] for target in targets})
    # Locked in id order, so two escalations starting at once never wait on each other's rows.
    rows = {
        row.pk: row
        for row in EscalationTarget.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, type=TargetType.ROUND_ROBIN)
        .order_by("pk")
    }
    members = defaultdict(list)
    for member in (
        RoundRobinMember.objects.filter(target_id__in=ids)
        .select_related("user")
        .order_by("target_id", "position", "id")
    ):
        members[member.target_id].append(member)
    chosen = []
    for target in targets:
        row, people = rows.get(target["id"]), members.get(target["id"], [])
        target["members"] = [{"id": m.user_id, "username": m.user.get_username()} for m in people]
        target["user_id"], target["username"], target["skipped"] = None, None, []
        if row is None or not people:
            continue
        start = row.next_index % len(people)
        for offset in range(len(people)):
            member = people[(start + offset) % len(people)]
            if member.user.is_active:
                target["user_id"] = member.user_id
                target["username"] = member.user.get_username()
                row.next_index = (start + offset + 1) % len(people)
                row.save(update_fields=["next_index"])
                chosen.append(target["username"])
                break
            target["skipped"].append(member.user.get_username())
    return chosen
