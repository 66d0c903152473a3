"""The team page (issue 21): a caller in the team (leader or member) is told so (no 参团 on
their own team); members show their nickname and avatar, never an id or openid."""
from tests.conftest import call, new_product
from tests.unit.test_groupbuy import Buyer, make_campaign


def test_the_leader_and_members_are_in_their_team_and_others_not(db):
    campaign = make_campaign(new_product(price=1000, stock=10))
    leader, member, stranger = Buyer(), Buyer(), Buyer()
    db.users.update_one({"_id": leader.user_id}, {"$set": {"avatar_url": "https://img.test/a.png",
                                                           "nickname": "团长"}})
    team_id, _ = leader.lead(campaign)
    member.pay(member.join(team_id).data["order"]["id"])

    seen = {who: who.call("get_team", {"team_id": team_id}).data
            for who in (leader, member, stranger)}
    anonymous = call("get_team", {"team_id": team_id}).data

    assert [seen[w]["in_team"] for w in (leader, member, stranger)] == [True, True, False]
    assert anonymous["in_team"] is False
    members = anonymous["members"]
    assert members[0] == {"nickname": "团长", "avatar": "https://img.test/a.png",
                          "is_leader": True}
    assert all(set(m) == {"nickname", "avatar", "is_leader"} for m in members)
    assert leader.user_id not in str(anonymous)
    listed = leader.call("get_group_buy", {"campaign_id": campaign["id"]}).data["teams"]
    assert [t["in_team"] for t in listed if t["id"] == team_id] == [True]
