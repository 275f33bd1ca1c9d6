#include "ui/chat_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTextBrowser>
#include <QTextCharFormat>
#include <QTextCursor>
#include <QVBoxLayout>

#include <exception>

#include "core/store/project.h"
#include "ui/engine.h"

namespace rlhf::ui {

namespace {

const QString kAddedFoldersKey = QStringLiteral("chat/addedFolders");
const QString kSideName[2] = {QStringLiteral("A"), QStringLiteral("B")};

// Appends to the end of a transcript and keeps it scrolled to the bottom.
void appendHtml(QTextBrowser* view, const QString& html) {
    QTextCursor c(view->document());
    c.movePosition(QTextCursor::End);
    if (!view->document()->isEmpty()) c.insertBlock();
    c.insertHtml(html);
    view->verticalScrollBar()->setValue(view->verticalScrollBar()->maximum());
}

void appendPlain(QTextBrowser* view, const QString& text) {
    QTextCursor c(view->document());
    c.movePosition(QTextCursor::End);
    c.setCharFormat(QTextCharFormat());  // streamed text in the default format, not the header's bold
    c.insertText(text);
    view->verticalScrollBar()->setValue(view->verticalScrollBar()->maximum());
}

}  // namespace

ChatPanel::ChatPanel(Engine* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
    setObjectName(QStringLiteral("chatPanel"));
    addedFolders_ = QSettings().value(kAddedFoldersKey).toStringList();

    // ---- models row
    auto* modelsRow = new QHBoxLayout;
    for (int s = 0; s < 2; ++s) {
        auto* combo = new QComboBox(this);
        combo->setObjectName(QStringLiteral("model%1").arg(kSideName[s]));
        combo->setMinimumContentsLength(28);
        combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        sides_[size_t(s)].combo = combo;
        connect(combo, &QComboBox::currentIndexChanged, this, [this, s] {
            sides_[size_t(s)].header->setText(tr("%1 · %2").arg(kSideName[s], sides_[size_t(s)].combo->currentText()));
            sides_[size_t(s)].combo->setToolTip(modelPath(Side(s)));
        });
    }
    auto* modelALabel = new QLabel(tr("Model &A"), this);
    modelALabel->setBuddy(sides_[0].combo);
    sideBySide_ = new QCheckBox(tr("Side by side, model &B"), this);
    sideBySide_->setObjectName(QStringLiteral("sideBySide"));
    auto* addFolder = new QPushButton(tr("Add &folder…"), this);
    addFolder->setToolTip(tr("Add a model folder (config.json + tokenizer.json), or a folder of them"));
    auto* refresh = new QPushButton(tr("Re&scan"), this);
    refresh->setToolTip(tr("Look for models again in the project, the Hugging Face cache (%1) and the added folders")
                            .arg(huggingFaceHubDir()));
    modelsRow->addWidget(modelALabel);
    modelsRow->addWidget(sides_[0].combo, 1);
    modelsRow->addSpacing(12);
    modelsRow->addWidget(sideBySide_);
    modelsRow->addWidget(sides_[1].combo, 1);
    modelsRow->addWidget(addFolder);
    modelsRow->addWidget(refresh);
    connect(addFolder, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Add model folder"));
        if (!dir.isEmpty()) addModelFolder(dir);
    });
    connect(refresh, &QPushButton::clicked, this, &ChatPanel::refreshModels);
    connect(sideBySide_, &QCheckBox::toggled, this, [this](bool on) {
        sides_[1].combo->setEnabled(on);
        sides_[1].box->setVisible(on);
        updateButtons();
    });

    // ---- settings row: system prompt and sampling
    system_ = new QLineEdit(this);
    system_->setObjectName(QStringLiteral("systemPrompt"));
    system_->setPlaceholderText(tr("System prompt (optional)"));
    temperature_ = new QDoubleSpinBox(this);
    temperature_->setRange(0, 5);
    temperature_->setSingleStep(0.1);
    temperature_->setDecimals(2);
    temperature_->setToolTip(tr("0 = greedy (deterministic)"));
    topP_ = new QDoubleSpinBox(this);
    topP_->setRange(0.01, 1);
    topP_->setSingleStep(0.05);
    topP_->setDecimals(2);
    topK_ = new QSpinBox(this);
    topK_->setRange(0, 100000);
    topK_->setToolTip(tr("0 = off"));
    maxNewTokens_ = new QSpinBox(this);
    maxNewTokens_->setRange(1, 32768);
    seed_ = new QSpinBox(this);
    seed_->setRange(0, 1 << 30);
    completion_ = new QCheckBox(tr("Plain &completion"), this);
    completion_->setToolTip(tr("Continue the message as text, without the chat template (the demo's review models "
                               "are completion models)"));
    auto* settingsRow = new QHBoxLayout;
    settingsRow->addWidget(system_, 2);
    auto labelled = [&](const QString& text, QWidget* w) {
        auto* l = new QLabel(text, this);
        l->setBuddy(w);
        settingsRow->addWidget(l);
        settingsRow->addWidget(w);
    };
    labelled(tr("&Temperature"), temperature_);
    labelled(tr("Top-&p"), topP_);
    labelled(tr("Top-&k"), topK_);
    labelled(tr("&Max new tokens"), maxNewTokens_);
    labelled(tr("S&eed"), seed_);
    settingsRow->addWidget(completion_);
    setSampling(ChatSampling{});

    // ---- transcripts
    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(buildSide(A));
    splitter->addWidget(buildSide(B));
    sides_[1].box->setVisible(false);
    sides_[1].combo->setEnabled(false);

    // ---- feedback row
    aBetter_ = new QPushButton(tr("◀ A better"), this);
    aBetter_->setObjectName(QStringLiteral("aBetter"));
    aBetter_->setToolTip(tr("Store A's reply as preferred over B's (Alt+1)"));
    aBetter_->setShortcut(QKeySequence(Qt::ALT | Qt::Key_1));
    bBetter_ = new QPushButton(tr("B better ▶"), this);
    bBetter_->setObjectName(QStringLiteral("bBetter"));
    bBetter_->setToolTip(tr("Store B's reply as preferred over A's (Alt+2)"));
    bBetter_->setShortcut(QKeySequence(Qt::ALT | Qt::Key_2));
    exportButton_ = new QPushButton(tr("E&xport feedback as dataset"), this);
    exportButton_->setToolTip(tr("Add every A|B preference of this project to the preference dataset '%1' "
                                 "(train the reward model on it)").arg(QString::fromLatin1(kDefaultFeedbackDataset)));
    connect(aBetter_, &QPushButton::clicked, this, [this] { preferSide(A); });
    connect(bBetter_, &QPushButton::clicked, this, [this] { preferSide(B); });
    connect(exportButton_, &QPushButton::clicked, this, [this] { exportFeedback(); });
    auto* feedbackRow = new QHBoxLayout;
    feedbackRow->addWidget(aBetter_);
    feedbackRow->addWidget(bBetter_);
    feedbackRow->addStretch(1);
    feedbackRow->addWidget(exportButton_);

    // ---- input row
    input_ = new QPlainTextEdit(this);
    input_->setObjectName(QStringLiteral("chatInput"));
    input_->setPlaceholderText(tr("Message (Ctrl+Enter sends)"));
    input_->setMaximumHeight(80);
    sendButton_ = new QPushButton(tr("Send"), this);
    sendButton_->setObjectName(QStringLiteral("send"));
    sendButton_->setToolTip(tr("Send (Ctrl+Enter)"));
    stopButton_ = new QPushButton(tr("Stop"), this);
    stopButton_->setObjectName(QStringLiteral("stop"));
    stopButton_->setToolTip(tr("Stop the replies (Esc)"));
    auto* newChatButton = new QPushButton(tr("&New chat"), this);
    auto* sendShortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), input_);
    sendShortcut->setContext(Qt::WidgetShortcut);
    auto* stopShortcut = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    stopShortcut->setContext(Qt::WidgetWithChildrenShortcut);
    auto sendInput = [this] {
        if (send(input_->toPlainText())) input_->clear();
    };
    connect(sendButton_, &QPushButton::clicked, this, sendInput);
    connect(sendShortcut, &QShortcut::activated, this, sendInput);
    connect(stopButton_, &QPushButton::clicked, this, &ChatPanel::stop);
    connect(stopShortcut, &QShortcut::activated, this, &ChatPanel::stop);
    connect(newChatButton, &QPushButton::clicked, this, &ChatPanel::newChat);
    auto* buttons = new QVBoxLayout;
    buttons->addWidget(sendButton_);
    buttons->addWidget(stopButton_);
    buttons->addWidget(newChatButton);
    auto* inputRow = new QHBoxLayout;
    inputRow->addWidget(input_, 1);
    inputRow->addLayout(buttons);

    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("chatStatus"));
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(modelsRow);
    layout->addLayout(settingsRow);
    layout->addWidget(splitter, 1);
    layout->addLayout(feedbackRow);
    layout->addLayout(inputRow);
    layout->addWidget(status_);

    connect(engine_, &Engine::projectOpened, this, [this] {
        newChat();
        refreshModels();
    });
    // New runs finishing add models (runs/<id>/final).
    connect(engine_, &Engine::jobFinished, this, [this] { refreshModels(); });
    refreshModels();
    updateButtons();
    setStatus(tr("Choose a model and write a message."));
}

ChatPanel::~ChatPanel() = default;

QWidget* ChatPanel::buildSide(Side side) {
    SideState& st = sides_[size_t(side)];
    st.box = new QWidget(this);
    st.header = new QLabel(st.box);
    st.header->setObjectName(QStringLiteral("header%1").arg(kSideName[side]));
    QFont bold = st.header->font();
    bold.setBold(true);
    st.header->setFont(bold);
    st.view = new QTextBrowser(st.box);
    st.view->setObjectName(QStringLiteral("transcript%1").arg(kSideName[side]));
    st.view->setOpenLinks(false);
    // Words, not emoji: a desktop without an emoji font would draw empty boxes.
    st.thumbsUp = new QPushButton(tr("Good"), st.box);
    st.thumbsUp->setObjectName(QStringLiteral("good%1").arg(kSideName[side]));
    st.thumbsUp->setToolTip(tr("Thumbs up: store a +1 rating of this reply"));
    st.thumbsDown = new QPushButton(tr("Bad"), st.box);
    st.thumbsDown->setObjectName(QStringLiteral("bad%1").arg(kSideName[side]));
    st.thumbsDown->setToolTip(tr("Thumbs down: store a −1 rating of this reply"));
    connect(st.thumbsUp, &QPushButton::clicked, this, [this, side] { rateReply(side, +1); });
    connect(st.thumbsDown, &QPushButton::clicked, this, [this, side] { rateReply(side, -1); });
    auto* head = new QHBoxLayout;
    head->addWidget(st.header, 1);
    head->addWidget(st.thumbsUp);
    head->addWidget(st.thumbsDown);
    auto* layout = new QVBoxLayout(st.box);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(head);
    layout->addWidget(st.view, 1);
    return st.box;
}

// ---- models

void ChatPanel::fillCombo(QComboBox* combo, const QVector<ChatModelEntry>& models, const QString& keep) {
    const QSignalBlocker block(combo);
    combo->clear();
    for (const ChatModelEntry& m : models) {
        combo->addItem(m.label, m.path);
        combo->setItemData(combo->count() - 1, QStringLiteral("%1\n%2").arg(m.path, m.source), Qt::ToolTipRole);
    }
    const int at = combo->findData(keep);
    combo->setCurrentIndex(at >= 0 ? at : (combo->count() ? 0 : -1));
}

void ChatPanel::refreshModels() {
    store::Project* project = engine_->hasProject() ? &engine_->project() : nullptr;
    // Folders chosen with selectModel() that no scan finds stay offered (a rescan after a run
    // finishes must not take the model being chatted with out of the list).
    const QVector<ChatModelEntry> models = findChatModels(engine_->projectDir(), addedFolders_ + selectedFolders_, project);
    QString keepA = modelPath(A), keepB = modelPath(B);
    // Defaults: A = the project's base model (models/…, the demo's reference), B = the newest run's
    // export (the demo's PPO policy), so the A|B mode compares reference and policy out of the box.
    if (keepA.isEmpty() && !models.isEmpty()) keepA = models.front().path;
    if (keepB.isEmpty()) {
        for (const ChatModelEntry& m : models)
            if (m.path != keepA) {
                keepB = m.path;
                break;
            }
    }
    fillCombo(sides_[0].combo, models, keepA);
    fillCombo(sides_[1].combo, models, keepB);
    for (int s = 0; s < 2; ++s)
        sides_[size_t(s)].header->setText(tr("%1 · %2").arg(kSideName[s], sides_[size_t(s)].combo->currentText()));
    updateButtons();
}

void ChatPanel::addModelFolder(const QString& dir) {
    const QString path = QFileInfo(dir).absoluteFilePath();
    if (!addedFolders_.contains(path)) {
        addedFolders_ << path;
        QSettings().setValue(kAddedFoldersKey, addedFolders_);
    }
    refreshModels();
    if (isModelFolder(path)) selectModel(A, path);
}

bool ChatPanel::selectModel(Side side, const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    if (!isModelFolder(abs)) {
        setStatus(tr("%1 is not a model folder (needs config.json and tokenizer.json)").arg(abs));
        return false;
    }
    QComboBox* combo = sides_[size_t(side)].combo;
    int at = combo->findData(abs);
    if (at < 0) {
        // Not in the scanned places: offer it in both lists, now and after every rescan.
        if (!selectedFolders_.contains(abs)) selectedFolders_ << abs;
        for (auto& st : sides_) st.combo->addItem(QDir::toNativeSeparators(abs), abs);
        at = combo->findData(abs);
    }
    combo->setCurrentIndex(at);
    return true;
}

QString ChatPanel::modelPath(Side side) const { return sides_[size_t(side)].combo->currentData().toString(); }

QStringList ChatPanel::modelPaths() const {
    QStringList out;
    for (int i = 0; i < sides_[0].combo->count(); ++i) out << sides_[0].combo->itemData(i).toString();
    return out;
}

void ChatPanel::setSideBySide(bool on) { sideBySide_->setChecked(on); }
bool ChatPanel::sideBySide() const { return sideBySide_->isChecked(); }

// ---- settings

void ChatPanel::setSampling(const ChatSampling& s) {
    temperature_->setValue(s.temperature);
    topP_->setValue(s.topP);
    topK_->setValue(s.topK);
    maxNewTokens_->setValue(s.maxNewTokens);
    seed_->setValue(int(s.seed));
}

ChatSampling ChatPanel::sampling() const {
    ChatSampling s;
    s.temperature = temperature_->value();
    s.topP = topP_->value();
    s.topK = topK_->value();
    s.maxNewTokens = maxNewTokens_->value();
    s.seed = seed_->value();
    return s;
}

void ChatPanel::setSystemPrompt(const QString& text) { system_->setText(text); }
void ChatPanel::setCompletionMode(bool on) { completion_->setChecked(on); }

// ---- conversation

ChatClient* ChatPanel::clientFor(Side side) {
    SideState& st = sides_[size_t(side)];
    const QString path = modelPath(side);
    // One process per model folder and side; a switched model or a dead process gets a new one.
    if (!st.client || st.client->modelDir() != path || st.client->hasFailed()) {
        st.client.reset();
        st.client = std::make_unique<ChatClient>(path);
        ChatClient* c = st.client.get();
        connect(c, &ChatClient::token, this, [this, side](int id, const QString& t) { onToken(side, id, t); });
        connect(c, &ChatClient::done, this,
                [this, side](int id, const QString& text, int tokens, double tps, const QString& finish) {
                    onDone(side, id, text, tokens, tps, finish);
                });
        connect(c, &ChatClient::requestFailed, this, [this, side](int id, const QString& m) { onFailed(side, id, m); });
        connect(c, &ChatClient::processFailed, this, [this, side](const QString& m) {
            onFailed(side, sides_[size_t(side)].requestId, m);
        });
    }
    return st.client.get();
}

bool ChatPanel::send(const QString& rawText) {
    const QString text = rawText.trimmed();
    if (text.isEmpty()) return false;
    if (isBusy()) {
        setStatus(tr("Wait for the reply, or press Stop."));
        return false;
    }
    for (int s = 0; s < sideCount(); ++s) {
        if (modelPath(Side(s)).isEmpty()) {
            setStatus(tr("Choose model %1 first (Add folder… if it is not listed).").arg(kSideName[s]));
            return false;
        }
    }
    turnSides_ = sideCount();
    voted_ = false;
    history_.push_back({QStringLiteral("user"), text});
    // Stored first, so the replies can name it as their parent. A failing store does not stop
    // the chat; the status line says the turn was not recorded.
    userMessageId_ = 0;
    if (engine_->hasProject()) {
        try {
            store::Project& p = engine_->project();
            if (sessionId_ == 0) {
                QString model = modelPath(A);
                if (sideBySide()) model += QStringLiteral(" | ") + modelPath(B);
                sessionId_ = p.create_chat_session(text.left(60).toStdString(), model.toStdString());
            }
            std::optional<int64_t> parent;
            if (lastMessageId_ > 0) parent = lastMessageId_;
            userMessageId_ = p.add_chat_message(sessionId_, parent, "user", text.toStdString());
        } catch (const std::exception& e) {
            setStatus(tr("Not stored: %1").arg(QString::fromUtf8(e.what())));
        }
    }
    const ChatSampling s = sampling();
    for (int i = 0; i < turnSides_; ++i) {
        SideState& st = sides_[size_t(i)];
        appendHtml(st.view, QStringLiteral("<p style='color:#2060a0'><b>%1</b> %2</p>")
                                .arg(tr("You:"), text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>"))));
        appendHtml(st.view, QStringLiteral("<b>%1:</b> ").arg(kSideName[i]));
        st.reply.clear();
        st.replyId = 0;
        st.updates = 0;
        st.busy = true;
        st.requestId = clientFor(Side(i))->send(history_, system_->text(), s, completion_->isChecked());
    }
    setStatus(turnSides_ == 2 ? tr("A and B are writing…") : tr("Writing…"));
    updateButtons();
    return true;
}

void ChatPanel::onToken(Side side, int id, const QString& text) {
    SideState& st = sides_[size_t(side)];
    if (!st.busy || id != st.requestId) return;  // a late piece of a reply already ended
    st.reply += text;
    ++st.updates;
    appendPlain(st.view, text);
}

void ChatPanel::onDone(Side side, int id, const QString& text, int tokens, double tps, const QString& finish) {
    SideState& st = sides_[size_t(side)];
    if (!st.busy || id != st.requestId) return;
    st.busy = false;
    // The done event's text is the decode of the whole reply; the streamed pieces should add up to
    // it (the CLI test checks this), and if they ever do not, the stored text is the full decode.
    st.reply = text;
    if (finish == QStringLiteral("cancelled")) appendHtml(st.view, QStringLiteral("<i style='color:gray'>%1</i>").arg(tr("[stopped]")));
    st.header->setText(tr("%1 · %2 — %3 tokens, %4 tok/s")
                           .arg(kSideName[side], st.combo->currentText()).arg(tokens).arg(tps, 0, 'f', 1));
    if (engine_->hasProject() && userMessageId_ > 0) {
        try {
            st.replyId = engine_->project().add_chat_message(sessionId_, userMessageId_, "assistant",
                                                             text.toStdString(), modelPath(side).toStdString());
        } catch (const std::exception& e) {
            setStatus(tr("Reply not stored: %1").arg(QString::fromUtf8(e.what())));
        }
    }
    Q_EMIT replyFinished(int(side), text, finish);
    turnEnded();
}

void ChatPanel::onFailed(Side side, int id, const QString& message) {
    SideState& st = sides_[size_t(side)];
    if (!st.busy || (id != 0 && id != st.requestId)) return;
    st.busy = false;
    st.reply.clear();
    appendHtml(st.view, QStringLiteral("<p style='color:#b00020'>%1</p>").arg(message.toHtmlEscaped()));
    setStatus(tr("Model %1: %2").arg(kSideName[side], message));
    Q_EMIT replyFailed(int(side), message);
    turnEnded();
}

void ChatPanel::turnEnded() {
    if (isBusy()) return;
    // The conversation goes on from A's reply until a vote says B's was better (preferSide).
    const SideState& a = sides_[0];
    if (!a.reply.isEmpty()) {
        history_.push_back({QStringLiteral("assistant"), a.reply});
        if (a.replyId > 0) lastMessageId_ = a.replyId;
    } else if (!history_.isEmpty()) {
        history_.pop_back();  // no reply: the next message does not follow an unanswered one
        if (userMessageId_ > 0) lastMessageId_ = userMessageId_;
    }
    if (!status_->text().startsWith(tr("Model"))) setStatus(turnSides_ == 2 ? tr("Which reply is better?") : tr("Ready."));
    updateButtons();
}

void ChatPanel::stop() {
    for (auto& st : sides_)
        if (st.busy && st.client) st.client->cancel(st.requestId);
    if (isBusy()) setStatus(tr("Stopping…"));
}

void ChatPanel::newChat() {
    stop();
    history_.clear();
    sessionId_ = lastMessageId_ = userMessageId_ = 0;
    voted_ = false;
    for (auto& st : sides_) {
        st.view->clear();
        st.reply.clear();
        st.replyId = 0;
        st.updates = 0;
    }
    updateButtons();
}

bool ChatPanel::isBusy() const { return sides_[0].busy || sides_[1].busy; }

// ---- feedback

qint64 ChatPanel::preferSide(Side better) {
    const SideState& chosen = sides_[size_t(better)];
    const SideState& rejected = sides_[size_t(better == A ? B : A)];
    if (turnSides_ != 2 || voted_ || isBusy() || chosen.replyId <= 0 || rejected.replyId <= 0 || !engine_->hasProject()) {
        setStatus(tr("Nothing to compare: send a message in side-by-side mode first (with a project open)."));
        return 0;
    }
    qint64 id = 0;
    try {
        id = storePreference(engine_->project(), chosen.replyId, rejected.replyId);
    } catch (const std::exception& e) {
        setStatus(tr("Feedback not stored: %1").arg(QString::fromUtf8(e.what())));
        return 0;
    }
    voted_ = true;
    // The preferred reply is the one the conversation continues from.
    if (!history_.isEmpty() && history_.back().role == QStringLiteral("assistant")) history_.back().content = chosen.reply;
    lastMessageId_ = chosen.replyId;
    setStatus(tr("Stored: %1 better (feedback #%2).").arg(kSideName[better]).arg(id));
    updateButtons();
    Q_EMIT feedbackStored(id);
    return id;
}

qint64 ChatPanel::rateReply(Side side, int rating) {
    const SideState& st = sides_[size_t(side)];
    if (st.busy || st.replyId <= 0 || !engine_->hasProject()) {
        setStatus(tr("No stored reply to rate yet."));
        return 0;
    }
    try {
        const qint64 id = storeRating(engine_->project(), st.replyId, rating > 0 ? 1 : -1);
        setStatus(tr("Stored: %1 for %2's reply (feedback #%3).")
                      .arg(rating > 0 ? tr("thumbs up") : tr("thumbs down"), kSideName[side]).arg(id));
        Q_EMIT feedbackStored(id);
        return id;
    } catch (const std::exception& e) {
        setStatus(tr("Feedback not stored: %1").arg(QString::fromUtf8(e.what())));
        return 0;
    }
}

qint64 ChatPanel::exportFeedback(const QString& name) {
    if (!engine_->hasProject()) {
        setStatus(tr("Open a project first."));
        return -1;
    }
    try {
        const QPair<qint64, qint64> r = exportFeedbackDataset(engine_->project(), name);
        setStatus(tr("Exported %1 preference pairs to dataset '%2' (%3 new).").arg(r.first).arg(name).arg(r.second));
        Q_EMIT engine_->projectDataChanged();
        return r.second;
    } catch (const std::exception& e) {
        setStatus(tr("Export failed: %1").arg(QString::fromUtf8(e.what())));
        return -1;
    }
}

// ---- state

void ChatPanel::updateButtons() {
    const bool busy = isBusy();
    const bool pairReady = turnSides_ == 2 && !busy && !voted_ && sides_[0].replyId > 0 && sides_[1].replyId > 0;
    sendButton_->setEnabled(!busy);
    stopButton_->setEnabled(busy);
    aBetter_->setEnabled(pairReady);
    bBetter_->setEnabled(pairReady);
    aBetter_->setVisible(sideBySide());
    bBetter_->setVisible(sideBySide());
    exportButton_->setEnabled(engine_->hasProject());
    for (auto& st : sides_) {
        st.thumbsUp->setEnabled(!busy && st.replyId > 0);
        st.thumbsDown->setEnabled(!busy && st.replyId > 0);
    }
}

void ChatPanel::setStatus(const QString& text) { status_->setText(text); }
QString ChatPanel::statusText() const { return status_->text(); }
QString ChatPanel::transcript(Side side) const { return sides_[size_t(side)].view->toPlainText(); }
QString ChatPanel::lastReply(Side side) const { return sides_[size_t(side)].reply; }
qint64 ChatPanel::lastReplyMessageId(Side side) const { return sides_[size_t(side)].replyId; }
int ChatPanel::streamUpdates(Side side) const { return sides_[size_t(side)].updates; }

}  // namespace rlhf::ui
