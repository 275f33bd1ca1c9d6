#include <QtTest>
class SafetensorsTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void placeholder() {}
};
QTEST_APPLESS_MAIN(SafetensorsTest)
#include "test_safetensors.moc"
