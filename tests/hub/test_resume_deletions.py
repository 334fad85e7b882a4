"""Chat deletions made while a shopper was disconnected reach it when it resumes (issue 16): the
resume snapshot lists them, so the page removes what it still shows."""

from __future__ import annotations

from tests.hub.conftest import Client, Env


async def say(client: Client, text: str) -> int:
    await client.send(type="chat_send", text=text, clientMessageId=text)
    message_id: int = (await client.wait_type("chat_message", clientMessageId=text))["id"]
    return message_id


async def test_resume_lists_messages_deleted_while_away(env: Env) -> None:
    """A message deleted while the shopper was away is in the resume snapshot's deletions."""
    show = await env.start_show()
    seller = await env.connect(env.admin_token)
    await seller.join(show)
    shopper = await env.connect()
    await shopper.join(show)
    kept, gone = await say(seller, "kept"), await say(seller, "gone")
    await shopper.wait_type("chat_message", id=gone)
    await shopper.close()
    await seller.send(type="chat_delete", messageId=gone)
    await seller.wait_type("chat_deleted", messageIds=[gone])
    back = await env.connect()
    snap = await back.join(show, afterMessageId=gone)
    assert snap["deletedMessageIds"] == [gone]
    assert kept not in snap["deletedMessageIds"]
    # `kept`, stored just before, is resent (a lower id may be committed late); `gone` is not
    assert [m["id"] for m in snap["recentChat"]] == [kept]


async def test_resume_lists_a_banned_users_deleted_messages(env: Env) -> None:
    """A ban with deleteMessages while away: the resume removes all of that user's messages."""
    show = await env.start_show()
    seller = await env.connect(env.admin_token)
    await seller.join(show)
    troll = await env.connect()
    troll_id = (await troll.join(show))["user"]["id"]
    ids = [await say(troll, f"spam{i}") for i in range(3)]
    fine = await say(seller, "welcome")
    await seller.send(type="user_ban", userId=troll_id, deleteMessages=True)
    await seller.wait_type("chat_deleted", messageIds=ids)
    shopper = await env.connect()
    snap = await shopper.join(show, afterMessageId=fine)
    assert snap["deletedMessageIds"] == ids


async def test_resume_deletions_skip_messages_after_the_resume_point(env: Env) -> None:
    """Messages deleted after the last one seen are neither resent nor listed as deletions."""
    show = await env.start_show()
    seller = await env.connect(env.admin_token)
    await seller.join(show)
    seen = await say(seller, "seen")
    later = await say(seller, "later")
    await seller.send(type="chat_delete", messageId=later)
    await seller.wait_type("chat_deleted", messageIds=[later])
    shopper = await env.connect()
    snap = await shopper.join(show, afterMessageId=seen)
    assert snap["deletedMessageIds"] == [] and snap["recentChat"] == []


async def test_fresh_join_has_no_deletion_list(env: Env) -> None:
    """A first join (no afterMessageId) gets visible messages only and no deletion list."""
    show = await env.start_show()
    seller = await env.connect(env.admin_token)
    await seller.join(show)
    gone = await say(seller, "gone")
    await seller.send(type="chat_delete", messageId=gone)
    await seller.wait_type("chat_deleted", messageIds=[gone])
    snap = await (await env.connect()).join(show)
    assert "deletedMessageIds" not in snap and snap["recentChat"] == []
