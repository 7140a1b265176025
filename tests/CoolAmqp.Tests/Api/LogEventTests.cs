using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using CoolAmqp.Tracing;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

/// <summary>Every log message of the library has an EventId of its own, so that log pipelines can filter and
/// alert on one kind of event (the source generator's default ids collide across classes).</summary>
[TestFixture]
public sealed class LogEventTests
{
    private static List<(string Where, int Id, string Name)> LoggerMessages() =>
        typeof(Cluster).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => ($"{x.Method.DeclaringType!.Name}.{x.Method.Name}", x.Attribute!.EventId,
                x.Attribute.EventName ?? x.Method.Name))
            .ToList();

    [Test]
    public void Every_logger_message_sets_an_event_id()
    {
        List<(string Where, int Id, string Name)> messages = LoggerMessages();
        Assert.That(messages, Has.Count.GreaterThan(15), "the scan found the library's logger messages");
        // -1 is LoggerMessageAttribute's "not set": the generator then derives an id from the method name.
        Assert.That(messages.Where(m => m.Id <= 0).Select(m => m.Where), Is.Empty);
    }

    [Test]
    public void Event_ids_and_names_are_unique_across_the_library()
    {
        List<(string Where, int Id, string Name)> messages = LoggerMessages();
        messages.Add((nameof(LoggingFrameTracer), LoggingFrameTracer.FrameEventId.Id, LoggingFrameTracer.FrameEventId.Name!));
        string[] sharedIds = messages.GroupBy(m => m.Id).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Where))}").ToArray();
        string[] sharedNames = messages.GroupBy(m => m.Name).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Where))}").ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(sharedIds, Is.Empty, "event ids used twice");
            Assert.That(sharedNames, Is.Empty, "event names used twice");
        });
    }
}
