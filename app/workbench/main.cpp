// rlhf-workbench — the desktop GUI. Only start-up lives here; everything else is in ui/.
#include <QApplication>
#include <QCommandLineParser>

#include "ui/main_window.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("RLHF Workbench"));
    QApplication::setOrganizationName(QStringLiteral("rlhf-workbench"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("RLHF Workbench"));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("project"), QStringLiteral("Project folder to open."));
    parser.process(app);
    rlhf::ui::MainWindow window;
    if (!parser.positionalArguments().isEmpty()) window.openProject(parser.positionalArguments().first());
    window.show();
    return app.exec();
}
