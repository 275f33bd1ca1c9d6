// rlhf-workbench [PROJECT_DIR] — the desktop GUI. Only start-up lives here; everything else is in
// ui/ (ui/workbench.h builds the window with its panels).
#include <QApplication>
#include <QCommandLineParser>

#include "ui/workbench.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("RLHF Workbench"));
    QApplication::setOrganizationName(QStringLiteral("rlhf-workbench"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("RLHF Workbench: label, train and inspect RLHF runs."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("project"),
                                 QStringLiteral("Project folder to open (created if missing)."));
    const QCommandLineOption screenshots(QStringLiteral("screenshots"),
        QStringLiteral("Fill a demo project, save a PNG of every panel into DIR and exit."), QStringLiteral("DIR"));
    const QCommandLineOption script(QStringLiteral("script-stdin"),
        QStringLiteral("Test mode: read key names from stdin, one a line, send them to the current panel and "
                       "print 'ack <n>' after each is handled."));
    parser.addOption(screenshots);
    parser.addOption(script);
    parser.process(app);
    rlhf::ui::WorkbenchOptions options;
    if (!parser.positionalArguments().isEmpty()) options.projectDir = parser.positionalArguments().first();
    options.screenshotDir = parser.value(screenshots);
    options.scriptFromStdin = parser.isSet(script);
    return rlhf::ui::runWorkbench(app, options);
}
