// Chat sessions (a tree of messages: A|B alternatives share a parent) and the feedback given on
// replies, which becomes preference pairs for reward modelling / DPO.
#include <map>

#include "core/io/error.h"
#include "core/store/project.h"
#include "core/store/project_impl.h"

namespace rlhf::store {

int64_t Project::create_chat_session(const std::string& title, const std::string& model) {
    Db& db = impl_->db;
    Transaction tx(db, "create chat session");
    db.cached("INSERT INTO chat_sessions(title, model) VALUES (?, ?)", "create chat session")
        .bind(1, title)
        .bind(2, model)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

std::vector<ChatSession> Project::chat_sessions() {
    Stmt st = impl_->db.cached("SELECT id, title, model, created_at FROM chat_sessions ORDER BY id DESC",
                               "list chat sessions");
    std::vector<ChatSession> out;
    while (st.step()) out.push_back({st.col_int(0), st.col_text(1), st.col_text(2), st.col_text(3)});
    return out;
}

int64_t Project::add_chat_message(int64_t session_id, std::optional<int64_t> parent_id, const std::string& role,
                                  const std::string& content, const std::string& model) {
    Db& db = impl_->db;
    Transaction tx(db, "add chat message");
    if (parent_id) {
        Stmt st = db.cached("SELECT session_id FROM chat_messages WHERE id = ?", "add chat message");
        st.bind(1, *parent_id);
        if (!st.step() || st.col_int(0) != session_id)
            throw Error(database_path() + ": add chat message: parent " + std::to_string(*parent_id) +
                        " is not a message of session " + std::to_string(session_id));
    }
    db.cached("INSERT INTO chat_messages(session_id, parent_id, role, content, model) VALUES (?, ?, ?, ?, ?)",
              "add chat message")
        .bind(1, session_id)
        .bind(2, parent_id)
        .bind(3, role)
        .bind(4, content)
        .bind(5, model)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

std::vector<ChatMessage> Project::chat_messages(int64_t session_id) {
    Stmt st = impl_->db.cached(
        "SELECT id, session_id, parent_id, role, content, model, created_at FROM chat_messages"
        " WHERE session_id = ? ORDER BY id",
        "read chat messages");
    st.bind(1, session_id);
    std::vector<ChatMessage> out;
    while (st.step())
        out.push_back({st.col_int(0), st.col_int(1), st.col_opt_int(2), st.col_text(3), st.col_text(4),
                       st.col_text(5), st.col_text(6)});
    return out;
}

int64_t Project::add_feedback(const Feedback& f) {
    Db& db = impl_->db;
    Transaction tx(db, "add feedback");
    if (f.rejected_message_id) {
        // A preference only makes sense between two answers to the same conversation.
        Stmt st = db.cached(
            "SELECT a.parent_id IS b.parent_id AND a.session_id = b.session_id FROM chat_messages a, chat_messages b"
            " WHERE a.id = ? AND b.id = ?",
            "add feedback");
        st.bind(1, f.message_id).bind(2, *f.rejected_message_id);
        if (!st.step() || st.col_int(0) == 0 || f.message_id == *f.rejected_message_id)
            throw Error(database_path() + ": add feedback: messages " + std::to_string(f.message_id) + " and " +
                        std::to_string(*f.rejected_message_id) + " are not two replies to the same message");
    }
    db.cached("INSERT INTO feedback(message_id, rejected_message_id, rating, comment, annotator_id) VALUES (?, ?, ?, ?, ?)",
              "add feedback")
        .bind(1, f.message_id)
        .bind(2, f.rejected_message_id)
        .bind(3, f.rating ? std::optional<int64_t>(*f.rating) : std::nullopt)
        .bind(4, f.comment)
        .bind(5, f.annotator_id)
        .run();
    int64_t id = db.last_insert_id();
    tx.commit();
    return id;
}

std::vector<data::PreferencePair> Project::feedback_preference_pairs() {
    Db& db = impl_->db;
    std::vector<std::pair<int64_t, int64_t>> chosen_rejected;
    {
        Stmt st = db.cached("SELECT message_id, rejected_message_id FROM feedback WHERE rejected_message_id IS NOT NULL"
                            " ORDER BY id",
                            "feedback pairs");
        while (st.step()) chosen_rejected.emplace_back(st.col_int(0), st.col_int(1));
    }
    auto message = [&](int64_t id) {
        Stmt st = db.cached("SELECT parent_id, role, content FROM chat_messages WHERE id = ?", "feedback pairs");
        st.bind(1, id);
        if (!st.step()) throw Error(database_path() + ": feedback pairs: message " + std::to_string(id) + " is missing");
        return std::make_pair(st.col_opt_int(0), data::Message{st.col_text(1), st.col_text(2)});
    };
    std::vector<data::PreferencePair> out;
    for (auto [chosen_id, rejected_id] : chosen_rejected) {
        auto [parent, chosen] = message(chosen_id);
        data::PreferencePair p;
        p.chosen = {chosen};
        p.rejected = {message(rejected_id).second};
        // Walk up from the shared parent to the root, then reverse: the conversation so far.
        for (std::optional<int64_t> at = parent; at;) {
            auto [up, m] = message(*at);
            p.prompt.push_back(std::move(m));
            at = up;
        }
        std::reverse(p.prompt.begin(), p.prompt.end());
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace rlhf::store
