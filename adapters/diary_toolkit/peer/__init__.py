"""The diary engine both diary reference peers run on, with their seed and fault injection.

Each peer (``adapters.rest_diary.peer``, ``adapters.soap_diary.peer``) puts its
own wire in front of it.
"""
