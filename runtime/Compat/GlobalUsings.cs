// The shims below are found the way the BCL members they stand for are on .NET 8+, so call sites need no #if; they live
// in CoolAmqp.Compat (not the BCL's namespaces) so that assemblies seeing CoolAmqp's internals never meet two types of
// one name.
global using CoolAmqp.Compat;
