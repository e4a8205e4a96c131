namespace Ironclad.Host.Logging;

/// <summary>How log events are written to stdout: one line per event either way.</summary>
internal enum LogFormat
{
    Text,
    Json,
}
