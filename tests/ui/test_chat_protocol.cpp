// `rlhf chat --model DIR --json`, the protocol the Chat panel speaks, end to end through the real
// CLI on a tiny GPT-2 (test_chat_model.cpp). The truths are independent of the protocol code:
// `rlhf generate` (another command, no streaming) on the same folder and prompt gives the reply
// greedy decoding must produce; a hand-rendered chat template gives the prompt a system message
// must become; the streamed pieces must add up to the "done" text (a whole-sequence decode).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>

QString writeTinyChatModel(const QString& dir, unsigned seed);  // test_chat_model.cpp

namespace {

struct Reply {
    QStringList pieces;   // "token" events, in order
    QJsonObject done;     // the "done" event (empty if none)
    QJsonObject error;    // the "error" event (empty if none)
};

QByteArray line(const QJsonObject& o) { return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n'; }

QJsonObject completion(int id, const QString& prompt, int maxNew) {
    return {{QStringLiteral("id"), id}, {QStringLiteral("prompt"), prompt}, {QStringLiteral("max_new_tokens"), maxNew},
            {QStringLiteral("temperature"), 0}};
}

// Runs `rlhf chat --json` with `input` on stdin (then closed); returns every event line.
QList<QJsonObject> runChat(const QString& model, const QByteArray& input, int* exitCode = nullptr) {
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("chat"), QStringLiteral("--model"), model, QStringLiteral("--json"),
                                            QStringLiteral("--threads"), QStringLiteral("1")});
    p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(120000);
    if (exitCode) *exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    QList<QJsonObject> events;
    for (const QByteArray& l : p.readAllStandardOutput().split('\n'))
        if (!l.trimmed().isEmpty()) events << QJsonDocument::fromJson(l).object();
    return events;
}

Reply collect(const QList<QJsonObject>& events, int id) {
    Reply r;
    for (const QJsonObject& e : events) {
        if (e.value(QStringLiteral("id")).toInt(-1) != id) continue;
        const QString kind = e.value(QStringLiteral("event")).toString();
        if (kind == QStringLiteral("token")) r.pieces << e.value(QStringLiteral("text")).toString();
        else if (kind == QStringLiteral("done")) r.done = e;
        else if (kind == QStringLiteral("error")) r.error = e;
    }
    return r;
}

// `rlhf generate --json` greedy: {"text", "tokens": [...]}.
QJsonObject generate(const QString& model, const QString& prompt, int maxNew, bool chat) {
    QStringList args{QStringLiteral("generate"), QStringLiteral("--model"), model, QStringLiteral("--prompt"), prompt,
                     QStringLiteral("--max-new-tokens"), QString::number(maxNew), QStringLiteral("--temperature"),
                     QStringLiteral("0"), QStringLiteral("--json"), QStringLiteral("--threads"), QStringLiteral("1")};
    if (chat) args << QStringLiteral("--chat");
    QProcess p;
    p.start(QStringLiteral(RLHF_CLI_PATH), args);
    p.waitForFinished(120000);
    return QJsonDocument::fromJson(p.readAllStandardOutput().trimmed()).object();
}

}  // namespace

class ChatProtocolTest : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString model_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        model_ = tmp_.filePath(QStringLiteral("tiny"));
        const QString error = writeTinyChatModel(model_, 11);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    // A plain completion streams pieces that add up to the done text, which is what
    // `rlhf generate` writes for the same prompt; the model never emits EOS, so the reply is
    // exactly max_new_tokens long.
    void completion_streams_generate_output() {
        const QString prompt = QStringLiteral("The quick brown fox");
        const auto events = runChat(model_, line(completion(1, prompt, 40)));
        QVERIFY(!events.isEmpty());
        QCOMPARE(events.first().value(QStringLiteral("event")).toString(), QStringLiteral("ready"));
        const Reply r = collect(events, 1);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error.value(QStringLiteral("message")).toString()));
        QVERIFY2(r.pieces.size() > 1, "a reply streams in more than one piece");
        const QString text = r.done.value(QStringLiteral("text")).toString();
        QCOMPARE(r.pieces.join(QString()), text);
        QCOMPARE(r.done.value(QStringLiteral("tokens")).toInt(), 40);
        QCOMPARE(r.done.value(QStringLiteral("finish_reason")).toString(), QStringLiteral("length"));
        QVERIFY(r.done.value(QStringLiteral("tokens_per_second")).toDouble() > 0);
        const QJsonObject truth = generate(model_, prompt, 40, false);
        QCOMPARE(text, truth.value(QStringLiteral("text")).toString());
        QCOMPARE(truth.value(QStringLiteral("tokens")).toArray().size(), 40);
    }

    // Messages go through the chat template exactly as `rlhf generate --chat` renders them.
    void messages_match_generate_chat() {
        QJsonObject req{{QStringLiteral("id"), QStringLiteral("m1")},
                        {QStringLiteral("messages"), QJsonArray{QJsonObject{{QStringLiteral("role"), QStringLiteral("user")},
                                                                            {QStringLiteral("content"), QStringLiteral("Hello there")}}}},
                        {QStringLiteral("max_new_tokens"), 24},
                        {QStringLiteral("temperature"), 0}};
        const auto events = runChat(model_, line(req));
        QJsonObject done;
        QString streamed;
        for (const QJsonObject& e : events) {
            if (e.value(QStringLiteral("id")).toString() != QStringLiteral("m1")) continue;  // ids echo as sent
            if (e.value(QStringLiteral("event")).toString() == QStringLiteral("token")) streamed += e.value(QStringLiteral("text")).toString();
            if (e.value(QStringLiteral("event")).toString() == QStringLiteral("done")) done = e;
        }
        QVERIFY(!done.isEmpty());
        QCOMPARE(streamed, done.value(QStringLiteral("text")).toString());
        QCOMPARE(done.value(QStringLiteral("text")).toString(),
                 generate(model_, QStringLiteral("Hello there"), 24, true).value(QStringLiteral("text")).toString());
    }

    // "system" becomes the first message: the prompt is the template rendered by hand
    // ("system: …\nuser: …\nassistant: ", see test_chat_model.cpp), continued as plain text.
    // GPT-2's tokenizer adds no special tokens, so both paths encode the same ids.
    void system_prompt_is_the_first_message() {
        QJsonObject req{{QStringLiteral("id"), 5},
                        {QStringLiteral("system"), QStringLiteral("Be brief.")},
                        {QStringLiteral("messages"), QJsonArray{QJsonObject{{QStringLiteral("role"), QStringLiteral("user")},
                                                                            {QStringLiteral("content"), QStringLiteral("Hi")}}}},
                        {QStringLiteral("max_new_tokens"), 16},
                        {QStringLiteral("temperature"), 0}};
        const Reply r = collect(runChat(model_, line(req)), 5);
        QVERIFY(!r.done.isEmpty());
        const QString rendered = QStringLiteral("system: Be brief.\nuser: Hi\nassistant: ");
        QCOMPARE(r.done.value(QStringLiteral("text")).toString(),
                 generate(model_, rendered, 16, false).value(QStringLiteral("text")).toString());
    }

    // Requests run in order in one process; a bad request or line is answered with an error
    // naming the field and the process goes on; a queued request can be cancelled before it
    // starts (0 tokens); end of input ends the process with status 0.
    void queue_errors_and_cancel_of_a_queued_request() {
        QByteArray input = line(completion(1, QStringLiteral("One"), 30));
        input += line(QJsonObject{{QStringLiteral("id"), 2}, {QStringLiteral("messages"), QStringLiteral("oops")}});
        input += line(completion(3, QStringLiteral("Three"), 200));
        input += line(QJsonObject{{QStringLiteral("cancel"), 3}});
        input += "this is not json\n";
        input += line(QJsonObject{{QStringLiteral("id"), 4}, {QStringLiteral("prompt"), QStringLiteral("Four")},
                                  {QStringLiteral("max_new_tokens"), QStringLiteral("five")}});
        input += line(completion(6, QStringLiteral("Six"), 5));
        int code = -1;
        const auto events = runChat(model_, input, &code);
        QCOMPARE(code, 0);
        QCOMPARE(collect(events, 1).done.value(QStringLiteral("tokens")).toInt(), 30);
        QVERIFY(collect(events, 2).error.value(QStringLiteral("message")).toString().contains(QStringLiteral("messages")));
        const Reply three = collect(events, 3);
        QCOMPARE(three.done.value(QStringLiteral("finish_reason")).toString(), QStringLiteral("cancelled"));
        QCOMPARE(three.done.value(QStringLiteral("tokens")).toInt(), 0);
        QVERIFY(collect(events, 4).error.value(QStringLiteral("message")).toString().contains(QStringLiteral("max_new_tokens")));
        QCOMPARE(collect(events, 6).done.value(QStringLiteral("tokens")).toInt(), 5);
        bool sawParseError = false;
        for (const QJsonObject& e : events)
            sawParseError |= e.value(QStringLiteral("event")).toString() == QStringLiteral("error") &&
                             e.value(QStringLiteral("message")).toString().contains(QStringLiteral("not JSON"));
        QVERIFY(sawParseError);
        // Replies come in request order: every event of 1 precedes every event of 6.
        int lastOf1 = -1, firstOf6 = -1;
        for (int i = 0; i < events.size(); ++i) {
            const int id = events[i].value(QStringLiteral("id")).toInt(-1);
            if (id == 1) lastOf1 = i;
            if (id == 6 && firstOf6 < 0) firstOf6 = i;
        }
        QVERIFY(lastOf1 >= 0 && firstOf6 > lastOf1);
    }

    // A cancel sent while a reply streams stops it between two tokens, well before its
    // 1000-token budget; the process then answers the next request.
    void cancel_in_flight() {
        QProcess p;
        p.start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("chat"), QStringLiteral("--model"), model_, QStringLiteral("--json"),
                                                QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY(p.waitForStarted(30000));
        p.write(line(completion(1, QStringLiteral("Once"), 1000)));
        QList<QJsonObject> events;
        bool cancelled = false;
        QElapsedTimer clock;
        clock.start();
        QJsonObject done1, done2;
        while ((done1.isEmpty() || done2.isEmpty()) && clock.elapsed() < 120000) {
            p.waitForReadyRead(100);
            while (p.canReadLine()) {
                const QJsonObject e = QJsonDocument::fromJson(p.readLine()).object();
                const QString kind = e.value(QStringLiteral("event")).toString();
                const int id = e.value(QStringLiteral("id")).toInt(-1);
                if (kind == QStringLiteral("token") && id == 1 && !cancelled) {
                    p.write(line(QJsonObject{{QStringLiteral("cancel"), 1}}));
                    cancelled = true;
                }
                if (kind == QStringLiteral("done") && id == 1) {
                    done1 = e;
                    p.write(line(completion(2, QStringLiteral("Twice"), 3)));
                }
                if (kind == QStringLiteral("done") && id == 2) done2 = e;
            }
        }
        p.closeWriteChannel();
        QVERIFY(p.waitForFinished(30000));
        QVERIFY(cancelled);
        QCOMPARE(done1.value(QStringLiteral("finish_reason")).toString(), QStringLiteral("cancelled"));
        const int tokens = done1.value(QStringLiteral("tokens")).toInt();
        qInfo("cancelled after %d of 1000 tokens", tokens);
        QVERIFY(tokens >= 1 && tokens < 1000);
        QCOMPARE(done2.value(QStringLiteral("tokens")).toInt(), 3);
    }

    // Exit codes: 2 for bad usage, 1 (one stderr line naming the folder) for a folder that is
    // not a model.
    void exit_codes() {
        QProcess usage;
        usage.start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("chat"), QStringLiteral("--json")});
        usage.waitForFinished(30000);
        QCOMPARE(usage.exitCode(), 2);
        QProcess missing;
        const QString dir = tmp_.filePath(QStringLiteral("not-a-model"));
        QDir().mkpath(dir);
        missing.start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("chat"), QStringLiteral("--model"), dir, QStringLiteral("--json")});
        missing.closeWriteChannel();
        missing.waitForFinished(30000);
        QCOMPARE(missing.exitCode(), 1);
        QVERIFY(QString::fromUtf8(missing.readAllStandardError()).contains(dir));
    }

    // --info reports the LibTorch build (the About box shows it).
    void info() {
        QProcess p;
        p.start(QStringLiteral(RLHF_CLI_PATH), {QStringLiteral("chat"), QStringLiteral("--info")});
        p.waitForFinished(30000);
        QCOMPARE(p.exitCode(), 0);
        const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        QVERIFY(o.value(QStringLiteral("torch")).toString().contains(QLatin1Char('.')));
        QVERIFY(o.contains(QStringLiteral("cuda_available")));
    }
};

QTEST_APPLESS_MAIN(ChatProtocolTest)
#include "test_chat_protocol.moc"
