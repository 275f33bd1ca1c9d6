// ChatPanel — chat with a model, or with two side by side (issue 6 item 7). Models come from the
// project (models/*, runs/<id>/final), the local Hugging Face cache and folders the user adds.
// Each model answers in its own `rlhf chat --json` child process (ChatClient, engine_chat.h), so
// replies stream in without the GUI thread ever waiting, and in A|B mode both models write at the
// same time. Every turn is stored in the project (chat_sessions / chat_messages); "A better",
// "B better" and the thumbs store feedback, and "Export feedback" turns the A|B preferences into
// a preference dataset the reward model trains on.
//
// In A|B mode both models see the same conversation: after a turn, the reply the user preferred
// (A's when there was no vote) becomes the assistant turn the next message follows, which is
// also the parent the store records, so feedback_preference_pairs() gets consistent prompts.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

#include <array>
#include <memory>

#include "ui/engine_chat.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;

namespace rlhf::ui {

class Engine;

class ChatPanel : public QWidget {
    Q_OBJECT
public:
    enum Side { A = 0, B = 1 };
    static constexpr const char* kDefaultFeedbackDataset = "chat-feedback";

    explicit ChatPanel(Engine* engine, QWidget* parent = nullptr);
    ~ChatPanel() override;

    // ---- models
    void refreshModels();                      // re-scans project, HF cache and added folders
    void addModelFolder(const QString& dir);   // remembered in QSettings
    bool selectModel(Side side, const QString& path);  // adds the folder to the list when missing
    QString modelPath(Side side) const;
    QStringList modelPaths() const;            // every folder the combo boxes offer
    void setSideBySide(bool on);
    bool sideBySide() const;

    // ---- settings
    void setSampling(const ChatSampling& s);
    ChatSampling sampling() const;
    void setSystemPrompt(const QString& text);
    void setCompletionMode(bool on);  // plain completion of the message, no chat template

    // ---- conversation
    bool send(const QString& text);  // false (and says why) when busy or no model is chosen
    void stop();                     // cancels the replies in flight
    void newChat();                  // a fresh conversation (a new stored session on next send)
    bool isBusy() const;

    // ---- feedback; each returns the stored feedback id, or 0 when there is nothing to rate
    qint64 preferSide(Side better);  // A|B mode, once per turn
    qint64 rateReply(Side side, int rating);  // +1 / -1 on the side's last reply
    // Exports every A|B preference of the project as dataset `name`; returns records added, -1 on error.
    qint64 exportFeedback(const QString& name = QString::fromLatin1(kDefaultFeedbackDataset));

    // ---- what is shown and stored (tests, screenshots)
    QString transcript(Side side) const;
    QString lastReply(Side side) const;
    qint64 lastReplyMessageId(Side side) const;
    int streamUpdates(Side side) const;  // token updates rendered into the side's latest reply
    qint64 sessionId() const { return sessionId_; }
    QString statusText() const;

Q_SIGNALS:
    void replyFinished(int side, const QString& text, const QString& finishReason);
    void replyFailed(int side, const QString& message);
    void feedbackStored(qint64 feedbackId);

private:
    struct SideState {
        std::unique_ptr<ChatClient> client;
        int requestId = 0;      // the request being answered (0 = none)
        bool busy = false;
        QString reply;          // the latest reply, as streamed / as the done event said
        qint64 replyId = 0;     // its chat_messages id (0 = not stored)
        int updates = 0;        // token signals rendered into it
        QComboBox* combo = nullptr;
        QLabel* header = nullptr;
        QTextBrowser* view = nullptr;
        QWidget* box = nullptr;
        QPushButton* thumbsUp = nullptr;
        QPushButton* thumbsDown = nullptr;
    };

    QWidget* buildSide(Side side);
    void fillCombo(QComboBox* combo, const QVector<ChatModelEntry>& models, const QString& keep);
    ChatClient* clientFor(Side side);
    void onToken(Side side, int id, const QString& text);
    void onDone(Side side, int id, const QString& text, int tokens, double tps, const QString& finish);
    void onFailed(Side side, int id, const QString& message);
    void turnEnded();
    void updateButtons();
    void setStatus(const QString& text);
    int sideCount() const { return sideBySide() ? 2 : 1; }

    Engine* engine_;
    std::array<SideState, 2> sides_;
    QStringList addedFolders_;     // "Add folder…" (QSettings)
    QStringList selectedFolders_;  // selectModel() folders outside the scanned places (this session)
    QCheckBox* sideBySide_;
    QCheckBox* completion_;
    QLineEdit* system_;
    QDoubleSpinBox* temperature_;
    QDoubleSpinBox* topP_;
    QSpinBox* topK_;
    QSpinBox* maxNewTokens_;
    QSpinBox* seed_;
    QPlainTextEdit* input_;
    QPushButton* sendButton_;
    QPushButton* stopButton_;
    QPushButton* aBetter_;
    QPushButton* bBetter_;
    QPushButton* exportButton_;
    QLabel* status_;

    QVector<ChatTurn> history_;   // the conversation both models see
    qint64 sessionId_ = 0;        // stored session (0 = none yet / no project)
    qint64 lastMessageId_ = 0;    // parent of the next user message
    qint64 userMessageId_ = 0;    // the user message of the current turn
    bool voted_ = false;          // an A|B preference was stored for the current turn
    int turnSides_ = 0;           // sides taking part in the current turn
};

}  // namespace rlhf::ui
