// Captures the server's log events (level, event id, message) and mirrors them to the test output,
// so a failing protocol test shows what the server thought happened.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ironclad.Nbd.Tests.Support;

internal sealed record LogEntry(LogLevel Level, int EventId, string Message, Exception? Exception);

internal sealed class TestLoggerFactory : ILoggerFactory, ILogger
{
    private readonly ITestOutputHelper? _output = TestContext.Current.TestOutputHelper;
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        var entry = new LogEntry(logLevel, eventId.Id, formatter(state, exception), exception);
        _entries.Enqueue(entry);
        try
        {
            _output?.WriteLine($"[server {logLevel} {eventId.Id}] {entry.Message}{(exception is null ? "" : " " + exception)}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; the server is still logging its shutdown.
        }
    }
}
